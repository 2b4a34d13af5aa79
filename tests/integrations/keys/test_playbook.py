"""Revoke and undo through a playbook on the real Temporal dev server: AWS IAM on
moto_server, OpenAI (deleted, not restorable) on its Admin API emulator, Vault leases (not
restorable) on a real OpenBao server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from smokejumper.config import Settings, load_settings
from smokejumper.domain.incidents import UPDATE_ABORT, AbortRequest, IncidentState
from smokejumper.sdk.playbook import Playbook
from smokejumper.store.db import Store
from smokejumper.store.tables import Action, TimelineEvent
from tests.helpers import eventually, insert_incident, start_playbook, step_done
from tests.integrations.emulators.openai_admin import OpenAIAdmin
from tests.integrations.keys.conftest import ADMIN_SECRET, Iam, containment_settings
from tests.integrations.keys.key_playbooks import (
    RevokeLeakedKey,
    RevokeLeakedOpenAIKey,
    RevokeLeakedVaultLeases,
)
from tests.openbao import OpenBao
from workers.worker import activities_for, sandboxed_runner

Handle = WorkflowHandle[Any, IncidentState]


@asynccontextmanager
async def revoking(
    temporal_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    playbook: type[Playbook],
    key_id: str,
) -> AsyncIterator[tuple[Handle, int]]:
    """The playbook running on a worker for a new incident titled `key_id`, once its
    "revoke key" step is done."""
    incident = insert_incident(
        store, playbook=playbook.name, fingerprint=uuid.uuid4().hex
    ).model_copy(update={"title": key_id})
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=[playbook],
        activities=activities_for(store, settings),
        workflow_runner=sandboxed_runner(),
    ):
        handle = await start_playbook(temporal_env.client, playbook.name, incident, queue)
        await step_done(handle, "revoke key")
        try:
            yield handle, incident.incident_id
        finally:
            description = await handle.describe()
            if description.status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test finished")


def action_row(store: Store, key_id: str) -> Action:
    with store.session() as session:
        row = session.scalar(select(Action).where(Action.target == key_id))
    assert row is not None
    return row


async def test_abort_restores_the_revoked_key(
    iam: Iam, temporal_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    key_id, _ = iam.access_key()
    settings = containment_settings(tmp_path, iam.endpoint_url)
    async with revoking(temporal_env, sqlite_store, settings, RevokeLeakedKey, key_id) as (
        handle,
        _,
    ):
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
        row = action_row(sqlite_store, key_id)
        assert row.status == "restored"
        assert row.verified is True
        assert row.restored_at is not None


async def test_openai_key_deleted_once_across_a_temporal_retry_and_its_undo_says_why(
    temporal_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    with OpenAIAdmin(ADMIN_SECRET).running() as api:
        assert isinstance(api, OpenAIAdmin)
        key_id, _ = api.create_key("proj_support")
        project, _, key = key_id.partition("/")
        path = f"/v1/organization/projects/{project}/api_keys/{key}"
        # The delete goes through but its answer is lost: Temporal retries the activity.
        api.fail("DELETE", f"^{path}$", 502, after=True)
        settings = load_settings(
            data_dir=tmp_path / "data",
            containment={"openai": {"base_url": f"{api.url}/v1", "api_key": ADMIN_SECRET}},
        )
        async with revoking(
            temporal_env, sqlite_store, settings, RevokeLeakedOpenAIKey, key_id
        ) as (handle, incident_id):
            assert not api.exists(key_id)
            assert api.calls("DELETE", path) == 1
            row = action_row(sqlite_store, key_id)
            assert (row.status, row.attempts, row.reversible) == ("completed", 2, False)

            await handle.execute_update(
                UPDATE_ABORT,
                AbortRequest(actor="alice", reason="false positive"),
                result_type=IncidentState,
            )

            async def undo_failed() -> str | None:
                with sqlite_store.session() as session:
                    events = session.scalars(
                        select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
                    ).all()
                found = [e.message for e in events if "undo revoke key failed" in e.message]
                return found[0] if found else None

            message = await eventually(undo_failed, within=30)
            assert "cannot restore keys" in message
            assert "issue a new key" in message
            assert api.calls("DELETE", path) == 1
            assert ADMIN_SECRET not in message


async def test_vault_leases_revoked_by_a_playbook_stop_their_database_logins(
    openbao: OpenBao, temporal_env: WorkflowEnvironment, sqlite_store: Store, tmp_path: Path
) -> None:
    prefix = openbao.create_role()
    logins = [openbao.credentials(prefix)[1] for _ in range(2)]
    settings = load_settings(
        data_dir=tmp_path / "data",
        containment={"vault": {"address": openbao.url, "token": openbao.root_token}},
    )
    async with revoking(temporal_env, sqlite_store, settings, RevokeLeakedVaultLeases, prefix) as (
        handle,
        incident_id,
    ):
        assert not any(openbao.can_log_in(login) for login in logins)
        assert openbao.leases(prefix) == []
        row = action_row(sqlite_store, prefix)
        assert (row.status, row.verified, row.reversible) == ("completed", True, False)
        assert row.before is not None and row.before["details"]["lease_count"] == 2

        await handle.execute_update(
            UPDATE_ABORT,
            AbortRequest(actor="alice", reason="false positive"),
            result_type=IncidentState,
        )

        async def undo_failed() -> str | None:
            with sqlite_store.session() as session:
                events = session.scalars(
                    select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
                ).all()
            found = [e.message for e in events if "undo revoke key failed" in e.message]
            return found[0] if found else None

        message = await eventually(undo_failed, within=30)
        assert "cannot restore keys" in message
        assert openbao.root_token not in message
