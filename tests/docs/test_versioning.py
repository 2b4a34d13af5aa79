"""Changing a playbook while incidents are in flight (docs/writing-playbooks.md).

(`# --8<--` lines cut this file into the parts the guide shows;
tests/docs/test_doc_matches_code.py keeps both identical.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.workflow import NondeterminismError

from testkit import FakeProvider, load_history, make_alert, replay
from testkit.pytest_plugin import HarnessFactory
from tests.docs.versioned_playbook import RevokeKeyV1, RevokeKeyV2, RevokeKeyV2Unguarded

# --8<--
V1_HISTORY = Path(__file__).parents[1] / "histories" / "example-revoke-key.json"


def patches(events: list[HistoryEvent]) -> set[str]:
    """The patch ids a run's markers record (`workflow.patched` calls that returned True)."""
    return {
        json.loads(e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)["id"]
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    }


def test_the_recorded_history_is_a_v1_run() -> None:
    events = list(load_history(V1_HISTORY).events)
    assert "snapshot-before-notify" not in patches(events)
    scheduled = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    types = [e.activity_task_scheduled_event_attributes.activity_type.name for e in scheduled]
    assert "revoke_api_key" in types
    assert "snapshot_conversation" not in types


async def test_v1_replays_its_own_history() -> None:
    await replay(V1_HISTORY, RevokeKeyV1)


async def test_v2_with_the_patch_replays_what_v1_started() -> None:
    await replay(V1_HISTORY, RevokeKeyV2)


async def test_v2_without_the_patch_would_break_what_v1_started() -> None:
    with pytest.raises(NondeterminismError, match="snapshot_conversation"):
        await replay(V1_HISTORY, RevokeKeyV2Unguarded)


# --8<--
async def test_new_incidents_take_the_new_step(playbook_harness: HarnessFactory) -> None:
    fake = FakeProvider(
        "revoke_api_key", "restore_api_key", "snapshot_conversation", "notify_owner"
    )
    harness = await playbook_harness(RevokeKeyV2, providers=[fake])
    await harness.run(make_alert(), playbook="example-revoke-key")
    await harness.wait_for_timeline("playbook.finished")
    assert [call.activity for call in harness.calls] == [
        "revoke_api_key",
        "snapshot_conversation",
        "notify_owner",
    ]
