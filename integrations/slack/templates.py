"""Rendering Slack messages from Jinja2 templates to Block Kit JSON.

Templates are JSON with `{{ }}` holes. Every value put in a hole is masked (secrets and
personal data, `leaksafe.mask`), escaped for Slack mrkdwn and for JSON, so a template
cannot leak or break the message whatever the incident says. Only values the code builds
itself (mentions, links, button values) pass as `Raw`, and the code masks their text.

An operator's `slack.templates_dir` is searched first: a file there named like a built-in
one (`incident_card.json.j2`) replaces it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
)

from integrations.slack.leaksafe import mask


class Raw(str):
    """Text built by the code (mentions, links): not escaped again."""

    __slots__ = ()


class TemplateProblem(Exception):
    """A template failed to render or did not produce valid JSON; names the template."""


def escape_mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe(value: Any) -> str:
    """How any value reaches a message: masked, then escaped for mrkdwn."""
    if isinstance(value, Raw):
        return str(value)
    return escape_mrkdwn(mask("" if value is None else str(value)))


def link(url: str, label: str) -> Raw:
    return Raw(f"<{url}|{safe(label)}>")


def mention(user_id: str | None, name: str) -> Raw:
    return Raw(f"<@{user_id}>") if user_id else Raw(safe(name))


def _finalize(value: Any) -> str:
    return json.dumps(safe(value), ensure_ascii=False)[1:-1]


def truncated(value: Any, length: int = 255) -> Raw:
    """`value` masked, cut to `length` characters, then escaped for Slack."""
    # Masked before cutting: a secret cut in half would no longer be recognised; escaped
    # after: an entity cut in half would show as text.
    text = mask("" if value is None else str(value))
    if len(text) > length:
        text = text[: max(length - 1, 0)].rstrip() + "…"
    return Raw(escape_mrkdwn(text))


def _channel_link(channel_id: str) -> Raw:
    return Raw(f"<#{channel_id}>")


class Renderer:
    def __init__(self, templates_dir: Path | None = None) -> None:
        loaders: list[Any] = []
        if templates_dir is not None:
            loaders.append(FileSystemLoader(str(templates_dir)))
        loaders.append(PackageLoader("integrations.slack", "templates"))
        self.env = Environment(  # noqa: S701 - output is JSON; values are escaped by finalize
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            finalize=_finalize,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["channel_link"] = _channel_link
        self.env.filters["truncate"] = truncated

    def render(self, name: str, **context: Any) -> dict[str, Any]:
        """The message (or view) `name` as a dict ready for the Web API."""
        template_name = f"{name}.json.j2"
        try:
            text = self.env.get_template(template_name).render(**context)
        except TemplateError as exc:
            raise TemplateProblem(f"Slack template {template_name}: {exc}") from exc
        try:
            rendered: dict[str, Any] = json.loads(text)
        except ValueError as exc:
            raise TemplateProblem(
                f"Slack template {template_name} did not render valid JSON: {exc}"
            ) from None
        return rendered
