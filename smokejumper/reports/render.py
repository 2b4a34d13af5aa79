"""Rendering a report: Markdown for tickets and chat, self-contained printable HTML (inline
styles, no external assets), JSON for tools. Templates are Jinja2, shipped in the package."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from smokejumper.redaction import Redactor
from smokejumper.reports.build import Report, build_report
from smokejumper.store.db import Store

Format = Literal["md", "html", "json"]
FORMATS: tuple[Format, ...] = ("md", "html", "json")
MEDIA_TYPES: dict[Format, str] = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
}

_ENV = Environment(
    loader=PackageLoader("smokejumper.reports", "templates"),
    # The templates are named `*.html.j2`: the HTML one must be escaped, whatever alerts say.
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


# Characters that would make a link, an image, raw HTML, emphasis, a heading or a table
# column out of text an alert sent; backslash-escaped, they render as themselves.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>#!|~&])")
# At the start of a line these would begin a list, a heading underline or a numbered item.
_MARKDOWN_LEADING = re.compile(r"^(\d*)([-+=.)])")


def _cell(value: object) -> str:
    """Free text for the Markdown report: one line, with every character that Markdown
    (CommonMark, GFM tables) would read as markup escaped."""
    line = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))
    return _MARKDOWN_LEADING.sub(r"\1\\\2", line)


def _code(value: object) -> str:
    """An inline code span holding `value` literally: its fence is longer than any run of
    backticks inside it (backslashes do not escape in code spans; in a GFM table cell a
    pipe still needs one)."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    runs = [len(run) for run in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_ENV.filters["when"] = _when
_ENV.filters["cell"] = _cell
_ENV.filters["code"] = _code


def render(report: Report, fmt: Format) -> str:
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    template = _ENV.get_template("report.md.j2" if fmt == "md" else "report.html.j2")
    return template.render(r=report)


def incident_report(
    store: Store,
    incident_id: int,
    fmt: Format,
    redactor: Redactor,
    now: datetime | None = None,
) -> str:
    """The incident's report in `fmt`; LookupError for an unknown incident."""
    report = build_report(store, incident_id, redactor, now or datetime.now(UTC))
    return render(report, fmt)
