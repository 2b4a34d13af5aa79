"""Revoke and undo through a playbook on the real Temporal dev server and moto_server."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from smokejumper.domain.incidents import (
    QUERY_STATE,
    SIGNAL_ALERT,
    UPDATE_ABORT,
    AbortRequest,
    AlertAttached,
    IncidentState,
)
from smokejumper.store.db import Store
from smokejumper.store.tables import Action
from tests.helpers import eventually, insert_incident
from tests.integrations.keys.conftest import Iam, containment_settings
from tests.integrations.keys.key_playbooks import RevokeLeakedKey
from workers.worker import activities_for, sandboxed_runner


async def test_abort_restores_the_revoked_key(
    iam: Iam, temporal_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    key_id, _ = iam.access_key()
    incident = insert_incident(
        sqlite_store, playbook="test-revoke-key", fingerprint=uuid.uuid4().hex
    ).model_copy(update={"title": key_id})
    settings = containment_settings(tmp_path, iam.endpoint_url)
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=[RevokeLeakedKey],
        activities=activities_for(sqlite_store, settings),
        workflow_runner=sandboxed_runner(),
    ):
        handle: WorkflowHandle[
            RevokeLeakedKey, IncidentState
        ] = await temporal_env.client.start_workflow(
            "test-revoke-key",
            incident,
            id=f"incident-{uuid.uuid4().hex[:12]}",
            task_queue=queue,
            start_signal=SIGNAL_ALERT,
            start_signal_args=[
                AlertAttached(alert_id="a1", severity="high", title="t", deduplicated=False)
            ],
            result_type=IncidentState,
        )

        async def revoked() -> IncidentState | None:
            state: IncidentState = await handle.query(QUERY_STATE, result_type=IncidentState)
            return state if "revoke key" in state.steps_done else None

        await eventually(revoked, within=20)
        assert iam.status(key_id) == "Inactive"
        assert iam.calls("UpdateAccessKey", key_id) == 1

        after = await handle.execute_update(
            UPDATE_ABORT,
            AbortRequest(actor="alice", reason="key rotated already"),
            result_type=IncidentState,
        )

        assert after.steps_done == ["revoke key", "undo revoke key"]
        assert iam.status(key_id) == "Active"
        assert iam.calls("UpdateAccessKey", key_id) == 2
        with sqlite_store.session() as session:
            row = session.scalar(select(Action).where(Action.target == key_id))
        assert row is not None
        assert row.status == "restored"
        assert row.verified is True
        assert row.restored_at is not None
        await handle.terminate("test finished")
