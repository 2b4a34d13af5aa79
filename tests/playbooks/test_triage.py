"""The `triage` incident workflow on the time-skipping test server."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.incident import IncidentActivities
from playbooks.triage import Triage
from smokejumper.domain.incidents import (
    QUERY_STATE,
    SIGNAL_ALERT,
    AlertAttached,
    IncidentState,
    IncidentStatus,
    TimelineEntry,
)
from smokejumper.store.db import Store
from smokejumper.store.tables import TimelineEvent
from tests.helpers import eventually, insert_incident
from workers.worker import activities_for, sandboxed_runner


def attached(n: int) -> AlertAttached:
    return AlertAttached(alert_id=f"a{n}", severity="high", title="t", deduplicated=n > 0)


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


async def test_collects_every_alert_and_records_its_start(
    time_skipping_env: WorkflowEnvironment, store: Store
) -> None:
    # Closing (an update whose handler awaits an activity) is covered on the dev server in
    # tests/test_end_to_end.py: the time-skipping test server loses track of such updates.
    start = insert_incident(store, playbook="triage")
    client = time_skipping_env.client
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[Triage],
        activities=activities_for(store),
        workflow_runner=sandboxed_runner(),
    ):
        handle = await client.start_workflow(
            "triage",
            start,
            id="incident-fp",
            task_queue=queue,
            start_signal=SIGNAL_ALERT,
            start_signal_args=[attached(0)],
        )
        for n in (1, 2):
            await handle.signal(SIGNAL_ALERT, attached(n))
        state = await handle.query(QUERY_STATE, result_type=IncidentState)
        assert state.alerts_seen == 3
        assert state.status is IncidentStatus.OPEN

        async def finished() -> list[TimelineEvent] | None:
            with store.session() as session:
                events = session.query(TimelineEvent).order_by(TimelineEvent.id).all()
            return events if events and events[-1].kind == "playbook.finished" else None

        events = await eventually(finished)
        # Still open: a finished playbook waits for a responder to close the incident.
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await handle.terminate("test finished")
        assert [(e.kind, e.actor, e.step) for e in events] == [
            ("playbook.started", "playbook:triage", None),
            ("triage.waiting", "playbook:triage", "triage"),
            ("playbook.finished", "playbook:triage", None),
        ]


async def test_timeline_activity_is_idempotent_on_its_key(store: Store) -> None:
    start = insert_incident(store, playbook="triage")
    activities = IncidentActivities(store)
    entry = TimelineEntry(
        incident_id=start.incident_id, kind="k", message="m", actor="a", event_key="1:k:run"
    )
    env = ActivityEnvironment()
    assert await env.run(activities.record_timeline_event, entry) is True
    assert await env.run(activities.record_timeline_event, entry) is False
    with store.session() as session:
        assert session.query(TimelineEvent).count() == 1
