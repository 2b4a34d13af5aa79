"""Fault-test plumbing: the engine's processes as real processes a test can kill, a
file-backed Temporal dev server it can restart, and the API in the test's event loop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from integrations.evidence.checkpoints import head_checkpoints
from smokejumper.config import Settings
from smokejumper.settings.temporal import TemporalSettings
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.open import open_store
from smokejumper.temporal.devserver import dev_server_command, wait_until_serving
from tests.engine import operator_client, serve_api
from tests.helpers import eventually, free_port
from tests.integrations.keys.conftest import Iam, iam, moto_recording  # noqa: F401

FAULT_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
# The API in the test process knows only the built-in playbooks' triggers.
FAULT_ROUTE = {"playbook": "fault-contain", "kinds": ["data_leakage"]}


def process_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a `smokejumper` child process use these settings."""
    env = {
        **os.environ,
        "SMOKEJUMPER_DATA_DIR": str(settings.data_dir),
        "SMOKEJUMPER_DATABASE_URL": settings.effective_database_url,
        "SMOKEJUMPER_TEMPORAL__ADDRESS": settings.temporal.target,
        "SMOKEJUMPER_TEMPORAL__TASK_QUEUE": settings.temporal.task_queue,
        "SMOKEJUMPER_PLAYBOOK_DIRS": json.dumps([str(p) for p in settings.playbook_dirs]),
        "SMOKEJUMPER_LOG_LEVEL": "INFO",
    }
    if settings.containment.aws_endpoint_url:
        env["SMOKEJUMPER_CONTAINMENT__AWS_ENDPOINT_URL"] = settings.containment.aws_endpoint_url
    return env


@contextmanager
def worker_process(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`smokejumper worker` as a child process; stopped (if still alive) at the end."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"],
            env=process_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class DevServer:
    """The embedded dev server as `up` runs it (SQLite file, WAL), restartable on its port."""

    def __init__(self, workdir: Path) -> None:
        self.settings = TemporalSettings(dev_server_port=free_port(), dev_server_ui=False)
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        with (self.workdir / "temporal.log").open("ab") as out:
            self.process = subprocess.Popen(
                dev_server_command(self.settings, self.workdir), stdout=out, stderr=out
            )
        wait_until_serving(self.settings.target, self.settings.namespace, 60, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Api:
    settings: Settings
    store: Store
    http: httpx.AsyncClient

    async def alert(self, **fields: Any) -> dict[str, Any]:
        alert = {"source": "dlp", "kind": "data_leakage", "severity": "critical", **fields}
        response = await self.http.post("/api/v1/alerts", json=alert)
        assert response.status_code == 202, response.text
        accepted: dict[str, Any] = response.json()
        return accepted

    async def timeline(self, ref: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"/api/v1/incidents/{ref}")
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()["timeline"]
        return events

    async def wait_for(self, ref: str, kind: str, within: float = 60) -> list[dict[str, Any]]:
        async def seen() -> list[dict[str, Any]] | None:
            events = await self.timeline(ref)
            return events if kind in [event["kind"] for event in events] else None

        return await eventually(seen, within=within, interval=0.2)


@asynccontextmanager
async def api_only(settings: Settings) -> AsyncIterator[Api]:
    """The API in this event loop over a migrated store; workers are the test's business."""
    upgrade(settings.effective_database_url)
    store = open_store(settings, head_checkpoints(settings))
    try:
        async with serve_api(settings, store), operator_client(settings) as http:
            yield Api(settings, store, http)
    finally:
        store.dispose()
