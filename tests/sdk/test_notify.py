"""Playbooks notify responders: on the timeline, with groups resolved."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from smokejumper.config import load_settings
from smokejumper.store.db import Store
from smokejumper.store.tables import TimelineEvent
from tests.helpers import eventually, insert_incident, start_playbook
from tests.sdk.sample_playbooks import Heads
from workers.worker import activities_for, sandboxed_runner


async def test_notification_names_every_recipient(
    time_skipping_env: WorkflowEnvironment, sqlite_store: Store
) -> None:
    start = insert_incident(sqlite_store, playbook="test-notify")
    settings = load_settings(approvers={"oncall": ["alice", "bob"]})
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[Heads],
        activities=activities_for(sqlite_store, settings),
        workflow_runner=sandboxed_runner(),
    ):
        handle = await start_playbook(time_skipping_env.client, "test-notify", start, queue)

        async def done() -> list[TimelineEvent] | None:
            with sqlite_store.session() as session:
                events = session.query(TimelineEvent).order_by(TimelineEvent.id).all()
            return events if any(e.kind == "notify.done" for e in events) else None

        events = await eventually(done)
        await handle.terminate("test finished")
    note = next(e for e in events if e.kind == "notification")
    assert note.message == f"{start.ref}: key revoked"
    assert note.data == {"to": "alice, bob, zoe"}
    assert next(e for e in events if e.kind == "notify.done").message == "told 3"
