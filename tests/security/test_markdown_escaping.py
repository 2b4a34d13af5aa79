"""The Markdown report's escaping, through a CommonMark renderer with raw HTML and GFM
tables on: hostile text in a table cell or a code span renders as exactly that text."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from smokejumper.reports.render import _ENV
from tests.security import payloads
from tests.security.inert import assert_inert_html, parse

TRICKY = [
    *payloads.ALL,
    "- starts a list",
    "12. starts a numbered list",
    "# heading | with a pipe",
    "=== underline",
    "back`tick ``double`` and \\ backslash",
    "`starts and ends with a backtick`",
    "a | b | c",
]
MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("wrap", ["cell", "code"])
def test_text_in_a_table_renders_as_itself(text: str, wrap: str) -> None:
    filtered = _ENV.filters[wrap](text)
    html = MARKDOWN.render(f"| a | b |\n| --- | --- |\n| {filtered} | end |\n")
    assert_inert_html(html, [], r"(?!)")
    tags, shown = parse(html)
    assert shown == " ".join(["a", "b", text, "end"]), html
    assert [tag for tag, _ in tags].count("td") == 2, html


@pytest.mark.parametrize("text", TRICKY)
def test_text_in_a_heading_or_list_renders_as_itself(text: str) -> None:
    for line in (f"# Report: {_ENV.filters['cell'](text)}", f"- {_ENV.filters['cell'](text)}"):
        html = MARKDOWN.render(line + "\n")
        assert_inert_html(html, [], r"(?!)")
        assert parse(html)[1].endswith(text), html
        assert len([tag for tag, _ in parse(html)[0] if tag in {"ul", "ol", "h1", "h2"}]) == 1
