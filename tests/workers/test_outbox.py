"""A Temporal outage after the alert is stored loses nothing: the scheduler's outbox
dispatches it once Temporal is reachable."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from smokejumper.security.operator import operator_token
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.tables import AlertRow
from tests.conftest import TEST_AUDIT_SEAL
from tests.engine import serve_api
from tests.helpers import free_port, make_settings
from tests.test_end_to_end import example
from workers.scheduler import Scheduler
from workers.worker import build_workers, running_workers


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_alert_accepted_during_outage_is_dispatched_later(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    down = make_settings(tmp_path, database_url, f"127.0.0.1:{free_port()}")
    upgrade(database_url)
    store = Store(database_url, audit=TEST_AUDIT_SEAL)
    try:
        async with serve_api(down, store):
            auth = {"authorization": f"Bearer {operator_token(down)}"}
            async with httpx.AsyncClient(base_url=down.api_url, headers=auth) as http:
                response = await http.post("/api/v1/alerts", json=example())
                health = (await http.get("/healthz")).json()
        assert response.status_code == 202
        accepted = response.json()
        assert health["components"]["temporal"].startswith("error")
        with store.session() as session:
            row = session.get(AlertRow, accepted["alert_id"])
            assert row is not None
            assert row.dispatched_at is None
            assert row.dispatch_attempts == 1
            assert row.dispatch_error

        # Temporal is back: the scheduler (leader) drains the outbox.
        target = temporal_env.client.service_client.config.target_host
        up = down.model_copy(
            update={"temporal": down.temporal.model_copy(update={"address": target})}
        )
        scheduler = Scheduler(
            up.model_copy(
                update={
                    "scheduler": up.scheduler.model_copy(update={"outbox_min_age_seconds": 0.0})
                }
            ),
            store,
        )
        await scheduler.renew_lease()
        assert scheduler.leader
        async with running_workers(build_workers(temporal_env.client, up, store)):
            await scheduler.dispatch_outbox()
            handle = temporal_env.client.get_workflow_handle(accepted["workflow_id"])
            description = await handle.describe()
            assert description.status == WorkflowExecutionStatus.RUNNING
            await handle.terminate("test finished")
        with store.session() as session:
            assert (
                session.scalars(
                    select(AlertRow.dispatched_at).where(AlertRow.id == accepted["alert_id"])
                ).one()
                is not None
            )

        # A standby scheduler does not dispatch.
        standby = Scheduler(up, store)
        await standby.renew_lease()
        assert not standby.leader
    finally:
        store.dispose()
