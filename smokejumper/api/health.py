"""`GET /healthz`: the API answers 200 while it can store alerts; components are listed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import select, text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from smokejumper import __version__
from smokejumper.api.state import AppState, app_state
from smokejumper.store.leases import SCHEDULER_LEASE
from smokejumper.store.tables import SchedulerLease
from smokejumper.temporal.queues import has_worker

router = APIRouter(tags=["health"])


def _database(state: AppState) -> tuple[str, str]:
    try:
        with state.store.session() as session:
            session.execute(text("SELECT 1"))
            lease = session.scalars(
                select(SchedulerLease).where(SchedulerLease.name == SCHEDULER_LEASE)
            ).first()
    except Exception as exc:
        return f"error: {type(exc).__name__}", "unknown"
    if lease is None:
        return "ok", "not running"
    if lease.expires_at < datetime.now(UTC):
        return "ok", "stale"
    return "ok", "ok"


async def _temporal(state: AppState) -> tuple[str, str]:
    try:
        client = await asyncio.wait_for(state.temporal(), timeout=3)
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=state.settings.temporal.task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            ),
            timeout=timedelta(seconds=3),
        )
    except Exception as exc:
        return f"error: {type(exc).__name__}", "unknown"
    return "ok", "ok" if response.pollers else "no pollers"


async def _integration_queues(state: AppState) -> dict[str, str]:
    """Each integration queue (temporal.integration_queues) and whether a worker serves
    it: `ok`, `no worker` (its steps wait) or the error asking about it."""
    settings = state.settings.temporal
    if not settings.integration_queues:
        return {}
    try:
        client = await asyncio.wait_for(state.temporal(), timeout=3)
    except Exception as exc:
        return {route: f"error: {type(exc).__name__}" for route in settings.integration_queues}

    async def served(route: str) -> str:
        try:
            polled = await has_worker(client, settings.integration_queue(route))
        except Exception as exc:
            return f"error: {type(exc).__name__}"
        return "ok" if polled else "no worker"

    answers = await asyncio.gather(*(served(r) for r in settings.integration_queues))
    return dict(zip(settings.integration_queues, answers, strict=True))


@router.get("/healthz")
async def healthz(state: Annotated[AppState, Depends(app_state)]) -> JSONResponse:
    database, scheduler = await asyncio.to_thread(_database, state)
    temporal, worker = await _temporal(state)
    # Beside the components: `up` starts no integration worker, so it does not wait for one.
    queues = await _integration_queues(state)
    components = {
        "database": database,
        "temporal": temporal,
        "worker": worker,
        "scheduler": scheduler,
    }
    healthy = all(value == "ok" for value in [*components.values(), *queues.values()])
    body: dict[str, object] = {
        "status": "ok" if healthy else "degraded",
        "version": __version__,
        "components": components,
    }
    if queues:
        body["integration_queues"] = queues
        waiting = [route for route, value in queues.items() if value == "no worker"]
        if waiting:
            body["waiting_for_workers"] = waiting
    # 200 while alerts can be stored (the outbox covers Temporal); 503 when they cannot.
    return JSONResponse(body, status_code=200 if database == "ok" else 503)
