"""Roll back and undo through a playbook on the real Temporal dev server and MLflow."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from smokejumper.domain.incidents import (
    UPDATE_ABORT,
    AbortRequest,
    IncidentState,
)
from smokejumper.store.db import Store
from smokejumper.store.tables import Action
from tests.helpers import insert_incident, start_playbook, step_done
from tests.models.conftest import (
    SERVER_START_TIMEOUT,
    MlflowServer,
    digest_of,
    mlflow_settings,
    model_files,
    record_inventory,
    unique_model,
)
from tests.models.rollback_playbooks import RollBackModel
from workers.worker import activities_for, sandboxed_runner

pytestmark = SERVER_START_TIMEOUT


async def test_abort_restores_the_rolled_back_alias(
    mlflow_server: MlflowServer,
    temporal_env: WorkflowEnvironment,
    sqlite_store: Store,
    tmp_path: Path,
) -> None:
    model = unique_model()
    files = [model_files(f"{model}-v{n}") for n in (1, 2)]
    mlflow_server.register(model, files)
    record_inventory(sqlite_store, model, {"1": digest_of(tmp_path, files[0])})
    mlflow_server.set_alias(model, "production", "2")
    writes = mlflow_server.alias_writes()
    incident = insert_incident(
        sqlite_store, playbook="test-rollback-model", fingerprint=uuid.uuid4().hex
    ).model_copy(update={"title": model})
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=[RollBackModel],
        activities=activities_for(sqlite_store, mlflow_settings(tmp_path, mlflow_server.url)),
        workflow_runner=sandboxed_runner(),
    ):
        handle = await start_playbook(temporal_env.client, "test-rollback-model", incident, queue)
        await step_done(handle, "roll back model")
        assert mlflow_server.alias(model, "production") == "1"
        assert mlflow_server.alias_writes() == writes + 1

        after = await handle.execute_update(
            UPDATE_ABORT,
            AbortRequest(actor="alice", reason="false alarm: the digest job was misconfigured"),
            result_type=IncidentState,
        )

        assert after.steps_done == ["roll back model", "undo roll back model"]
        assert mlflow_server.alias(model, "production") == "2"
        assert mlflow_server.alias_writes() == writes + 2
        with sqlite_store.session() as session:
            row = session.scalar(select(Action).where(Action.target == f"{model}@production"))
        assert row is not None
        assert (row.status, row.verified) == ("restored", True)
        assert row.restored_at is not None
        await handle.terminate("test finished")
