"""A playbook can run another as a child and carry on when it is done."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from smokejumper.config import load_settings
from smokejumper.store.db import Store
from smokejumper.store.tables import TimelineEvent
from tests.helpers import eventually, insert_incident, start_playbook
from tests.sdk.sample_playbooks import ChildLeak, FakeProvider, HandOff
from workers.worker import activities_for, sandboxed_runner


async def test_child_playbook_returns_to_its_parent(
    time_skipping_env: WorkflowEnvironment, sqlite_store: Store
) -> None:
    start = insert_incident(sqlite_store, playbook="test-hand-off")
    store = sqlite_store
    provider = FakeProvider()
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[HandOff, ChildLeak],
        activities=[*activities_for(store, load_settings()), provider.action],
        workflow_runner=sandboxed_runner(),
    ):
        handle = await start_playbook(time_skipping_env.client, "test-hand-off", start, queue)

        async def parent_finished() -> list[tuple[str, str]] | None:
            with store.session() as session:
                events = session.query(TimelineEvent).order_by(TimelineEvent.id).all()
            kinds = [(e.kind, e.actor) for e in events]
            return kinds if ("playbook.finished", "playbook:test-hand-off") in kinds else None

        kinds = await eventually(parent_finished)
        await handle.terminate("test finished")
    assert provider.calls == [("do", "capture")]
    assert kinds.index(("playbook.finished", "playbook:test-child-leak")) < kinds.index(
        ("handoff.done", "playbook:test-hand-off")
    )
