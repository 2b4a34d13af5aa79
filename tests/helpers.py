"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import copy
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowHandle

from smokejumper.config import Settings, load_settings
from smokejumper.domain.incidents import (
    QUERY_STATE,
    SIGNAL_ALERT,
    AlertAttached,
    IncidentStart,
    IncidentState,
)
from smokejumper.intake.recorder import incident_ref, start_of
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_settings(
    tmp_path: Path, database_url: str, temporal_address: str, **extra: Any
) -> Settings:
    """Settings for one test: its own data dir, database, API port and task queue."""
    temporal = {"address": temporal_address, "task_queue": f"tq-{uuid.uuid4().hex[:8]}"}
    temporal.update(extra.pop("temporal", {}))
    api = {"port": free_port(), **extra.pop("api", {})}
    return load_settings(
        None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        temporal=temporal,
        api=api,
        **extra,
    )


async def eventually(
    probe: Callable[[], Awaitable[T | None]], within: float = 20.0, interval: float = 0.1
) -> T:
    """Await `probe` until it returns something truthy; fail with the last value."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {within}s (last value: {last!r})")


def insert_incident(
    store: Store,
    *,
    playbook: str,
    kind: str = "jailbreak",
    opened_at: datetime | None = None,
    fingerprint: str = "fp",
) -> IncidentStart:
    """An open incident row, as intake would have stored it, and its workflow start."""
    now = opened_at or datetime.now(UTC)
    with store.transaction() as session:
        incident = Incident(
            fingerprint=fingerprint,
            open_key=fingerprint,
            kind=kind,
            severity="high",
            title="t",
            status="open",
            playbook=playbook,
            route={},
            workflow_id=f"incident-{fingerprint}",
            principal={},
            target={},
            labels={},
            owasp=[],
            atlas=[],
            opened_at=now,
            updated_at=now,
        )
        session.add(incident)
        session.flush()
        incident.ref = incident_ref(incident.id, now)
        return start_of(incident)


def isolate_aws(monkeypatch: Any, tmp_path: Path, service: str) -> None:
    """Standard AWS variables set to test values, and nothing of the developer's own AWS
    setup (profile, config files, endpoints, instance metadata) in the way."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        f"AWS_ENDPOINT_URL_{service}",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-access-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


async def start_playbook(
    client: Client, playbook: str, incident: IncidentStart, task_queue: str
) -> WorkflowHandle[Any, IncidentState]:
    """Start `playbook` for `incident` as intake does: with the incident's first alert."""
    handle: WorkflowHandle[Any, IncidentState] = await client.start_workflow(
        playbook,
        incident,
        id=f"incident-{uuid.uuid4().hex[:12]}",
        task_queue=task_queue,
        start_signal=SIGNAL_ALERT,
        start_signal_args=[
            AlertAttached(alert_id="a1", severity="high", title="t", deduplicated=False)
        ],
        result_type=IncidentState,
    )
    return handle


async def step_done(
    handle: WorkflowHandle[Any, IncidentState], step: str, within: float = 30.0
) -> IncidentState:
    """The playbook's state once `step` has completed."""

    async def done() -> IncidentState | None:
        state: IncidentState = await handle.query(QUERY_STATE, result_type=IncidentState)
        return state if step in state.steps_done else None

    return await eventually(done, within=within)


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location inside a JSON value, the value itself included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += json_paths(child, (*prefix, index))
    return found


def json_replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of `value` with what is at `path` replaced by `new`."""
    if not path:
        return new
    copied = copy.deepcopy(value)
    parent = copied
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return copied


def tampered(signed: str) -> str:
    """`signed` (an itsdangerous token) with one character of its signature changed. Not
    the last ones: they carry base64 padding bits a decoder ignores, so changing them can
    leave the signature's bytes as they were."""
    changed = "A" if signed[-5] != "A" else "B"
    return signed[:-5] + changed + signed[-4:]
