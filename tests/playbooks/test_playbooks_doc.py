"""docs/playbooks.md shows each built-in playbook's dry run; this runs them and fails when
the guide and the playbooks differ. Regenerate the blocks after changing a playbook:

    .venv/bin/python -m tests.playbooks.test_playbooks_doc

Timestamps, workflow-time durations and timeline keys are written as `<time>`,
`<duration>` and `<event key>`: they are the only parts of a dry run that change from one
run to the next.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "playbooks.md"
BLOCK = re.compile(r"<!-- dry-run: (?P<args>[^\n]+?) -->\n```text\n(?P<body>.*?)```", re.S)
TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")
DURATION = re.compile(r"after \d+:\d{2}:\d{2}(?:\.\d+)? of workflow time")
# Timeline keys carry the run id.
EVENT_KEY = re.compile(r'"event_key": "<redacted: \d+ chars, sha256 [0-9a-f]+>"')
# So does a restore's retest attempt.
ATTEMPT = re.compile(r'"attempt": "<redacted: \d+ chars, sha256 [0-9a-f]+>"')


def normalize(text: str) -> str:
    text = EVENT_KEY.sub('"event_key": "<event key>"', TIME.sub("<time>", text))
    text = ATTEMPT.sub('"attempt": "<attempt>"', text)
    return DURATION.sub("after <duration> of workflow time", text)


def dry_run(args: str) -> str:
    result = CliRunner().invoke(app, ["playbooks", "dry-run", *shlex.split(args)])
    assert result.exit_code == 0, result.output
    # The plan is on stdout; stderr is the test process's logging, whatever it holds.
    return normalize(result.stdout)


def blocks() -> list[tuple[str, str]]:
    return [(m["args"], m["body"]) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def test_every_built_in_playbook_is_dry_run_in_the_guide() -> None:
    shown = {args.split()[0] for args, _ in blocks()}
    assert shown == {
        "sensitive-data-leakage",
        "prompt-injection",
        "model-extraction",
        "model-compromise",
        "system-prompt-leakage",
    }


@pytest.mark.parametrize(("args", "body"), blocks(), ids=[a for a, _ in blocks()])
def test_the_guide_shows_what_the_dry_run_prints(
    args: str, body: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert dry_run(args) == body


def regenerate() -> None:
    text = DOC.read_text(encoding="utf-8")

    def fresh(match: re.Match[str]) -> str:
        return f"<!-- dry-run: {match['args']} -->\n```text\n{dry_run(match['args'])}```"

    DOC.write_text(BLOCK.sub(fresh, text), encoding="utf-8")


if __name__ == "__main__":
    regenerate()
