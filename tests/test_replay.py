"""Every recorded history replays against the current code: a change to a playbook (or to
the SDK under every playbook) that would break incidents in flight fails here, before a
worker running it meets one. Histories come from tests/histories/record.py (or from
`temporal workflow show --output json`); see docs/writing-playbooks.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playbooks import BUILTIN_PLAYBOOKS
from smokejumper.sdk.playbook import Playbook
from testkit import load_history, replay
from tests.docs.example_playbook import ContainLeak
from tests.docs.versioned_playbook import RevokeKeyV2
from tests.sdk.sample_playbooks import FourEyesIsolation, GdprClock

HISTORIES = Path(__file__).parent / "histories"
# What the worker would run today, by workflow type. `example-revoke-key` is at v2: its
# history was recorded by v1, whose incidents v2 must keep serving.
CURRENT: dict[str, type[Playbook]] = {
    **BUILTIN_PLAYBOOKS,
    FourEyesIsolation.name: FourEyesIsolation,
    GdprClock.name: GdprClock,
    ContainLeak.name: ContainLeak,
    RevokeKeyV2.name: RevokeKeyV2,
}
# Older histories stay in subfolders named for the change they predate: incidents started
# before it may still be in flight, so today's code must keep replaying them too.
FILES = sorted(HISTORIES.rglob("*.json"))
IDS = [str(path.relative_to(HISTORIES).with_suffix("")) for path in FILES]


# Built-in playbooks added after the newest subfolder's change: they have no behaviour
# from before it to keep replaying.
NEWER_THAN_OLDER = frozenset({"system-prompt-leakage"})


def workflow_type(path: Path) -> str:
    first = json.loads(path.read_text(encoding="utf-8"))["events"][0]
    name: str = first["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]
    return name


@pytest.mark.parametrize("path", FILES, ids=IDS)
async def test_history_replays_on_current_code(path: Path) -> None:
    name = workflow_type(path)
    assert name in CURRENT, f"{path.name} is a history of {name!r}, which is not in CURRENT"
    await replay(load_history(path), CURRENT[name])


def test_every_playbook_has_a_recorded_history() -> None:
    missing = sorted(set(CURRENT) - {workflow_type(path) for path in FILES})
    assert not missing, (
        f"record them: .venv/bin/python -m tests.histories.record {' '.join(missing)}"
    )


def test_todays_histories_and_older_ones_are_both_kept() -> None:
    """A re-recording must not replace the only history of the SDK's previous behaviour."""
    older = [path for path in FILES if path.parent != HISTORIES]
    assert {workflow_type(path) for path in older} >= set(BUILTIN_PLAYBOOKS) - NEWER_THAN_OLDER
    assert {workflow_type(path) for path in FILES if path.parent == HISTORIES} >= set(
        BUILTIN_PLAYBOOKS
    )
