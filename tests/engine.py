"""Run the real engine pieces in the test process: worker, API (uvicorn), CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from click.testing import Result
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.main import app as cli_app
from integrations.evidence.checkpoints import head_checkpoints
from integrations.evidence.registry import evidence_store
from integrations.slack.feed import install_feed
from integrations.slack.messages import relay_id
from integrations.slack.responder import slack_responder
from integrations.sources.registry import NORMALIZERS
from playbooks import playbook_routes
from smokejumper.api.server import server_config
from smokejumper.app import create_app
from smokejumper.config import Settings
from smokejumper.security.operator import operator_token
from smokejumper.store.db import Store
from smokejumper.store.open import open_store
from smokejumper.store.tables import Incident
from tests.helpers import free_port, make_settings
from tests.migrated import migrated
from workers.worker import build_workers, running_workers


@dataclass
class Engine:
    settings: Settings
    store: Store
    client: Client
    http: httpx.AsyncClient

    @property
    def base_url(self) -> str:
        return self.settings.api_url

    async def cli(self, *args: str, stdin: str | None = None) -> Result:
        """Invoke the real CLI against this engine's API (in a thread: it blocks).

        It finds the API port and the operator token (in the data dir) like a user's would.
        """
        env = {
            "SMOKEJUMPER_API__PORT": str(self.settings.api.port),
            "SMOKEJUMPER_DATA_DIR": str(self.settings.data_dir),
        }
        return await asyncio.to_thread(
            CliRunner().invoke, cli_app, list(args), input=stdin, env=env
        )


@asynccontextmanager
async def serve_api(settings: Settings, store: Store) -> AsyncIterator[None]:
    app = create_app(
        settings,
        store,
        normalizers=NORMALIZERS,
        playbook_routes=playbook_routes(),
        evidence_reader=evidence_store(settings).get,
        evidence_deleter=evidence_store(settings).delete,
        slack_responder=slack_responder,
    )
    install_feed(app)
    # Served as `smokejumper api` serves it: with the connection guard.
    server = uvicorn.Server(server_config(app, settings, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        await task


def operator_client(settings: Settings) -> httpx.AsyncClient:
    """An HTTP client of the API at `settings.api_url`, holding the operator's token."""
    return httpx.AsyncClient(
        base_url=settings.api_url,
        timeout=30,
        headers={"authorization": f"Bearer {operator_token(settings)}"},
    )


@asynccontextmanager
async def running_engine(
    settings: Settings,
    client: Client,
    workflows: Sequence[type] | None = None,
    main_queue: bool = True,
) -> AsyncIterator[Engine]:
    """The API and the workers; `main_queue` False leaves the main queue's worker out (no
    slot of it free, as under a flood), only the urgent queue's polling."""
    migrated(settings.effective_database_url)
    store = open_store(settings, head_checkpoints(settings))
    try:
        # The main queue's worker and the urgent queue's, as `smokejumper worker` runs.
        workers = [
            worker
            for worker in build_workers(client, settings, store, workflows)
            if main_queue or worker.task_queue != settings.temporal.task_queue
        ]
        async with running_workers(workers):
            async with serve_api(settings, store), operator_client(settings) as http:
                yield Engine(settings=settings, store=store, client=client, http=http)
        # After the API has stopped: it delivers duplicates still waiting on the way out.
        await _terminate_incident_workflows(store, client)
    finally:
        store.dispose()


async def _terminate_incident_workflows(store: Store, client: Client) -> None:
    """Tests share one Temporal server and reuse fingerprints (and so incident workflow
    ids): leave no workflow running, the incidents' Slack relays included. A relay left
    running on this engine's task queue would take the next same-id incident's messages,
    and nobody would post them."""
    with store.session() as session:
        rows = session.execute(select(Incident.workflow_id, Incident.id)).all()
    await terminate_workflows(
        client,
        {
            *(workflow_id for workflow_id, _ in rows),
            *(relay_id(workflow_id, incident_id) for workflow_id, incident_id in rows),
        },
    )


async def terminate_workflows(client: Client, workflow_ids: Iterable[str]) -> None:
    """Terminate each workflow still running; one that is gone already is fine."""
    for workflow_id in workflow_ids:
        try:
            await client.get_workflow_handle(workflow_id).terminate("test finished")
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise


@asynccontextmanager
async def engine_on(
    tmp_path: Path,
    database_url: str,
    env: WorkflowEnvironment,
    workflows: Sequence[type] | None = None,
    main_queue: bool = True,
    **settings: Any,
) -> AsyncIterator[Engine]:
    """A running engine on the shared dev server, with these settings for the test."""
    target = env.client.service_client.config.target_host
    configured = make_settings(tmp_path, database_url, target, **settings)
    async with running_engine(configured, env.client, workflows, main_queue) as running:
        yield running


@asynccontextmanager
async def in_process_api(
    tmp_path: Path, database_url: str, **extra: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Store, Settings]]:
    """The API called in this process (no server) over a migrated store, holding the
    operator's token. Temporal is deliberately unreachable: an accepted alert waits in the
    outbox, so a test measures the API alone."""
    migrated(database_url)
    settings = make_settings(tmp_path, database_url, f"127.0.0.1:{free_port()}", **extra)
    store = open_store(settings, head_checkpoints(settings))
    app = create_app(settings, store, normalizers=NORMALIZERS, slack_responder=slack_responder)
    headers = {"authorization": f"Bearer {operator_token(settings)}"}
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://api", headers=headers
            ) as http,
        ):
            yield http, store, settings
    finally:
        store.dispose()
