"""Checks that rendered output carries hostile text as text: no markup made from it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

# What an escaping failure of the payloads would create in HTML.
_ACTIVE_TAGS = frozenset({"script", "img", "svg", "iframe", "a", "object", "embed"})


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> tuple[list[tuple[str, dict[str, str | None]]], str]:
    """(start tags with attributes, the text a reader sees, whitespace collapsed)."""
    page = _Page()
    page.feed(html)
    page.close()
    return page.tags, " ".join("".join(page.text).split())


def assert_inert_html(html: str, texts: list[str], allowed_links: str = r"^/") -> None:
    """No tag or event handler came from alert data, and each of `texts` reads literally."""
    tags, visible = parse(html)
    for tag, attrs in tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        if tag in _ACTIVE_TAGS:
            where = attrs.get("href") or attrs.get("src") or ""
            # The page's own links and script (same origin) are fine; nothing else is.
            assert re.match(allowed_links, where), (tag, attrs)
    for text in texts:
        assert " ".join(text.split()) in visible, text


# Slack's own markup that only the code makes: user/channel mentions and links to the
# console. Anything else between < and > would be alert text taken as markup.
_SLACK_TOKEN = re.compile(r"<(?:@U[A-Z0-9]+|#C[A-Z0-9]+|http://127\.0\.0\.1:\d+/[^<>|]*\|[^<>]*)>")
_SLACK_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def slack_texts(value: Any) -> list[str]:
    """Every `text` and `topic` string in a Web API call's parameters (blocks included)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in {"text", "topic"} and isinstance(item, str):
                found.append(item)
            else:
                found.extend(slack_texts(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(slack_texts(item))
    return found


def assert_slack_escaped(text: str) -> None:
    """`<`, `>` and `&` only as Slack's escapes or in markup the code made itself."""
    bare = _SLACK_TOKEN.sub("", text)
    assert "<" not in bare and ">" not in bare, text
    assert not _SLACK_ENTITY.search(text), text


def slack_unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
