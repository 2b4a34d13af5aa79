"""Rendering a report: Markdown for tickets and chat, self-contained printable HTML (inline
styles, no external assets), JSON for tools. Templates are Jinja2, shipped in the package."""

from __future__ import annotations

import json
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
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def _cell(value: object) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


_ENV.filters["when"] = _when
_ENV.filters["cell"] = _cell


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
