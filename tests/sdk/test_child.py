"""A playbook can run another as a child and carry on when it is done."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from smokejumper.config import load_settings
from smokejumper.domain.incidents import SIGNAL_ALERT, AlertAttached, IncidentStart
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.tables import Incident, TimelineEvent
from tests.helpers import eventually
from tests.sdk.sample_playbooks import ChildLeak, FakeProvider, HandOff
from workers.worker import activities_for, sandboxed_runner


async def test_child_playbook_returns_to_its_parent(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'child.db'}"
    upgrade(url)
    store = Store(url)
    now = datetime.now(UTC)
    with store.transaction() as session:
        row = Incident(
            fingerprint="fp",
            open_key="fp",
            kind="jailbreak",
            severity="high",
            title="t",
            status="open",
            playbook="test-hand-off",
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
        session.add(row)
        session.flush()
        start = IncidentStart(
            incident_id=row.id,
            ref="INC-2026-0001",
            fingerprint="fp",
            kind="jailbreak",
            severity="high",
            title="t",
            playbook="test-hand-off",
            opened_at=now,
        )
    provider = FakeProvider()
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[HandOff, ChildLeak],
        activities=[*activities_for(store, load_settings()), provider.action],
        workflow_runner=sandboxed_runner(),
    ):
        handle = await time_skipping_env.client.start_workflow(
            "test-hand-off",
            start,
            id=f"incident-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            start_signal=SIGNAL_ALERT,
            start_signal_args=[
                AlertAttached(alert_id="a", severity="high", title="t", deduplicated=False)
            ],
        )

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
