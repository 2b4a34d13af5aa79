"""Task priority follows severity: under a flood, a critical incident's tasks go first.

What the server is told is checked in the run's own history: the priority the run was
started with, and the one each activity was scheduled with after the playbook escalated.
(That the ordering pays off under a flood is measured by `make bench`'s flood_priority.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from temporalio.api.enums.v1 import EventType

from smokejumper.store.tables import Incident
from tests.playbooks.conftest import LEAKED_KEY, Responder
from tests.playbooks.test_data_leakage import leak_alert


async def _history(responder: Responder, ref: str) -> list[Any]:
    with responder.engine.store.session() as session:
        workflow_id = session.scalar(select(Incident.workflow_id).where(Incident.ref == ref))
    assert workflow_id is not None
    history = await responder.engine.client.get_workflow_handle(workflow_id).fetch_history()
    return list(history.events)


def _scheduled(events: list[Any]) -> dict[str, int]:
    """Activity type -> the priority key it was last scheduled with (0: inherited)."""
    return {
        e.activity_task_scheduled_event_attributes.activity_type.name: (
            e.activity_task_scheduled_event_attributes.priority.priority_key
        )
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }


async def test_a_low_leak_starts_low_and_its_steps_after_the_escalation_run_high(
    responder: Responder,
) -> None:
    ref = await responder.send(
        leak_alert(
            severity="low",
            evidence={"prompt": "hi", "response": f"The key is {LEAKED_KEY}"},
        )
    )
    await responder.wait_for(ref, "playbook.finished")
    events = await _history(responder, ref)
    started = events[0].workflow_execution_started_event_attributes
    assert started.priority.priority_key == 4  # low
    scheduled = _scheduled(events)
    # Classified, revoked and looked up at the alert's severity...
    assert scheduled["assess_leak"] == scheduled["revoke_key"] == 4
    assert scheduled["inventory_context"] == 4
    # ...then the credentials raised it to high, and the later activities say so.
    assert (await responder.detail(ref))["severity"] == "high"
    assert scheduled["notify"] == scheduled["record_report"] == 2


async def test_a_critical_leak_runs_at_the_top_priority(responder: Responder) -> None:
    ref = await responder.send(leak_alert(severity="critical"))
    await responder.wait_for(ref, "step.completed", "revoke key key-support-web")
    events = await _history(responder, ref)
    assert events[0].workflow_execution_started_event_attributes.priority.priority_key == 1
    assert set(_scheduled(events).values()) == {1}
