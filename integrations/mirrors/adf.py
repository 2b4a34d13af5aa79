"""Atlassian Document Format, the rich text Jira Cloud REST v3 takes for descriptions and
comments: https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/"""

from __future__ import annotations

from typing import Any


def text(value: str, link: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    if link is not None:
        node["marks"] = [{"type": "link", "attrs": {"href": link}}]
    return node


def paragraph(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": [n for n in nodes if n.get("text")]}


def document(*paragraphs: dict[str, Any]) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": list(paragraphs)}
