"""The `triage` incident workflow on the time-skipping test server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

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
    IncidentStart,
    IncidentState,
    IncidentStatus,
    TimelineEntry,
)
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.tables import Incident, TimelineEvent
from tests.helpers import eventually
from workers.worker import activities_for, sandboxed_runner


@pytest.fixture
def store(tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'sj.db'}"
    upgrade(url)
    return Store(url)


def open_incident(store: Store) -> IncidentStart:
    now = datetime.now(UTC)
    with store.transaction() as session:
        incident = Incident(
            ref="INC-2026-0001",
            fingerprint="fp",
            open_key="fp",
            kind="jailbreak",
            severity="high",
            title="t",
            status="open",
            playbook="triage",
            route={},
            workflow_id="incident-fp",
            principal={},
            target={},
            labels={},
            owasp=[],
            atlas=[],
            opened_at=now,
            updated_at=now,
        )
        session.add(incident)
        session.flush()
        incident_id = incident.id
    return IncidentStart(
        incident_id=incident_id,
        ref="INC-2026-0001",
        fingerprint="fp",
        kind="jailbreak",
        severity="high",
        title="t",
        playbook="triage",
        opened_at=now,
    )


def attached(n: int) -> AlertAttached:
    return AlertAttached(alert_id=f"a{n}", severity="high", title="t", deduplicated=n > 0)


async def test_collects_every_alert_and_records_its_start(
    time_skipping_env: WorkflowEnvironment, store: Store
) -> None:
    # Closing (an update whose handler awaits an activity) is covered on the dev server in
    # tests/test_end_to_end.py: the time-skipping test server loses track of such updates.
    start = open_incident(store)
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
    start = open_incident(store)
    activities = IncidentActivities(store)
    entry = TimelineEntry(
        incident_id=start.incident_id, kind="k", message="m", actor="a", event_key="1:k:run"
    )
    env = ActivityEnvironment()
    assert await env.run(activities.record_timeline_event, entry) is True
    assert await env.run(activities.record_timeline_event, entry) is False
    with store.session() as session:
        assert session.query(TimelineEvent).count() == 1
