"""The benchmark tables in README.md and docs/operations.md are generated from
bench/results.json: a figure edited by hand, or results measured without regenerating the
tables, fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import table


def test_the_documented_tables_are_the_results_files() -> None:
    assert table.main(["--check"]) == 0


def test_every_row_says_what_it_measured_and_whether_its_target_was_met() -> None:
    report = json.loads(table.RESULTS.read_text(encoding="utf-8"))
    rendered = table.render(report)
    for row in report["results"]:
        line = next(line for line in rendered.splitlines() if table._measures(row["name"]) in line)
        assert line.endswith("| yes |" if row["ok"] else "| **no** |")
        assert row["target"].replace("|", "\\|") in line


def test_a_hand_edited_figure_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = tmp_path / "README.md"
    text = table.DOCUMENTS[0].read_text(encoding="utf-8")
    begin = text.index(table.BEGIN)
    readme.write_text(text[:begin] + text[begin:].replace("| yes |", "| no |", 1))
    monkeypatch.setattr(table, "DOCUMENTS", (readme,))
    assert table.main(["--check"]) == 1


def test_rows_measured_on_different_machines_each_name_theirs() -> None:
    """A benchmark measured again on another machine does not lend the others its CPU."""
    report = json.loads(table.RESULTS.read_text(encoding="utf-8"))
    first, second = report["results"][0], report["results"][-1]
    first["machine"] = {**report["machine"], "cpu": "First CPU"}
    second["machine"] = {**report["machine"], "cpu": "Second CPU"}
    report["results"] = [first, second]
    footer = table.render(report).splitlines()[-1]
    assert f"`{first['name']}` on 2 CPUs (First CPU)" in footer
    assert f"`{second['name']}` on 2 CPUs (Second CPU)" in footer
    report["results"] = [first]
    assert "(First CPU)" in table.render(report).splitlines()[-1]
