"""Running incidents driven over HTTP and the CLI: approvals, abort, clock filings."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from click.testing import Result
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from cli.main import app as cli_app
from integrations.evidence.checkpoints import head_checkpoints
from smokejumper.config import Settings
from smokejumper.domain.incidents import UPDATE_DECIDE
from smokejumper.sdk.approvals import DecisionRequest, VoteReceipt
from smokejumper.security.operator import operator_token
from smokejumper.store.migrate import upgrade
from smokejumper.store.open import open_store
from smokejumper.store.tables import AuditEntry
from tests.engine import serve_api
from tests.helpers import eventually, make_settings
from tests.sdk.sample_playbooks import FakeProvider, FourEyesIsolation, GdprClock
from tests.test_end_to_end import example
from workers.worker import activities_for, sandboxed_runner

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class Engine:
    def __init__(self, settings: Settings, http: httpx.AsyncClient, provider: FakeProvider):
        self.settings = settings
        self.http = http
        self.provider = provider

    async def cli(self, *args: str) -> Result:
        env = {
            "SMOKEJUMPER_API__PORT": str(self.settings.api.port),
            "SMOKEJUMPER_DATA_DIR": str(self.settings.data_dir),
            "SMOKEJUMPER_DATABASE_URL": self.settings.effective_database_url,
        }
        return await asyncio.to_thread(CliRunner().invoke, cli_app, list(args), env=env)

    async def live(self, ref: str) -> dict[str, Any]:
        detail: dict[str, Any] = (await self.http.get(f"/api/v1/incidents/{ref}")).json()
        return detail


@pytest_asyncio.fixture
async def engine(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Engine]:
    settings = make_settings(
        tmp_path,
        database_url,
        temporal_env.client.service_client.config.target_host,
        approvers={
            "oncall": ["operator", "bob"],
            "leads": ["dana"],
            "incident-commanders": ["operator", "bob"],
        },
        routes=[
            {"playbook": "test-four-eyes", "kinds": ["prompt_injection"]},
            {"playbook": "test-gdpr-clock", "kinds": ["data_leakage"]},
        ],
    )
    upgrade(settings.effective_database_url)
    store = open_store(settings, head_checkpoints(settings))
    provider = FakeProvider()
    worker = Worker(
        temporal_env.client,
        task_queue=settings.temporal.task_queue,
        workflows=[FourEyesIsolation, GdprClock],
        activities=[*activities_for(store, settings), provider.action, provider.undo],
        workflow_runner=sandboxed_runner(),
    )
    auth = {"authorization": f"Bearer {operator_token(settings, create=True)}"}
    try:
        async with (
            worker,
            serve_api(settings, store),
            httpx.AsyncClient(base_url=settings.api_url, headers=auth, timeout=30) as http,
        ):
            yield Engine(settings, http, provider)
    finally:
        store.dispose()


async def open_incident(engine: Engine, kind: str) -> str:
    accepted = await engine.http.post(
        "/api/v1/alerts", json=example(kind=kind, dedup_key=uuid.uuid4().hex)
    )
    assert accepted.status_code == 202, accepted.text
    ref: str = accepted.json()["incident_id"]
    return ref


async def test_approve_from_the_cli_as_the_operator_identity(engine: Engine) -> None:
    ref = await open_incident(engine, "prompt_injection")

    async def pending() -> dict[str, Any] | None:
        live = (await engine.live(ref))["live"]
        return live if live and live["pending_approvals"] == ["isolate"] else None

    await eventually(pending)
    first = await engine.cli("approve", ref, "isolate", "--reason", "confirmed exfil")
    assert first.exit_code == 0, first.output
    assert "waiting for 1 more approval(s)" in first.output
    # The CLI acts as its credential's identity: it cannot vote twice as someone else.
    again = await engine.cli("approve", ref, "isolate")
    assert again.exit_code == 1
    assert "operator has already answered step 'isolate'" in again.output
    unknown = await engine.cli("deny", ref, "nope")
    assert unknown.exit_code == 1
    assert "no approval is pending for step 'nope'" in unknown.output

    aborted = await engine.cli("incidents", "abort", ref, "--reason", "drill")
    assert aborted.exit_code == 0, aborted.output
    assert "undone: undo snapshot" in aborted.output
    assert engine.provider.calls[-1] == ("undo", "snapshot")
    again = await engine.cli("incidents", "abort", ref)
    assert again.exit_code == 1
    assert "already finished" in again.output

    async def on_timeline() -> list[str] | None:
        # A vote's entry is written just after the playbook has applied it.
        detail = await engine.live(ref)
        kinds = [event["kind"] for event in detail["timeline"]]
        return kinds if "approval.vote" in kinds else None

    kinds = await eventually(on_timeline)
    assert "playbook.aborted" in kinds
    closed = await engine.cli("incidents", "close", ref)
    assert closed.exit_code == 0, closed.output


async def test_filing_stops_a_clock_over_http(engine: Engine) -> None:
    ref = await open_incident(engine, "data_leakage")

    async def clocked() -> dict[str, Any] | None:
        live = (await engine.live(ref))["live"]
        return live if live and live["clocks"] else None

    live = await eventually(clocked)
    assert live["clocks"][0]["name"] == "gdpr-art33"
    filed = datetime.now(UTC).isoformat()
    stopped = await engine.cli(
        "incidents", "stop-clock", ref, "gdpr-art33", "--filed-at", filed, "--reference", "DPA-77"
    )
    assert stopped.exit_code == 0, stopped.output
    assert "clock gdpr-art33 on" in stopped.output and "filed on time" in stopped.output
    body = {"filed_at": filed, "reference": "DPA-2026-77"}
    twice = await engine.http.post(f"/api/v1/incidents/{ref}/clocks/gdpr-art33/stop", json=body)
    assert twice.status_code == 409
    assert "already stopped by operator" in twice.json()["detail"]
    naive = await engine.http.post(
        f"/api/v1/incidents/{ref}/clocks/gdpr-art33/stop", json={"filed_at": "2026-11-30T10:00"}
    )
    assert naive.status_code == 422
    closed = await engine.http.post(f"/api/v1/incidents/{ref}/close", json={})
    assert closed.status_code == 200


async def test_restore_needs_another_person_and_the_audit_log_holds(
    engine: Engine, temporal_env: WorkflowEnvironment
) -> None:
    ref = await open_incident(engine, "prompt_injection")

    async def pending(step: str) -> dict[str, Any] | None:
        live = (await engine.live(ref))["live"]
        return live if live and live["pending_approvals"] == [step] else None

    await eventually(lambda: pending("isolate"))
    denied = await engine.cli("deny", ref, "isolate", "--reason", "benign")
    assert denied.exit_code == 0, denied.output
    assert "isolate on" in denied.output and "denied by operator" in denied.output

    async def finished() -> dict[str, Any] | None:
        detail = await engine.live(ref)
        kinds = [event["kind"] for event in detail["timeline"]]
        return detail if "playbook.finished" in kinds else None

    detail = await eventually(finished)
    asked = await engine.cli("incidents", "restore", ref, "--reason", "customer complaint")
    assert asked.exit_code == 0, asked.output
    await eventually(lambda: pending("restore"))
    own = await engine.cli("approve", ref, "restore")
    assert own.exit_code == 1
    assert "cannot approve their own request" in own.output
    # Another responder (as Slack or the console would deliver it) approves.
    handle = temporal_env.client.get_workflow_handle(detail["workflow_id"])
    await handle.execute_update(
        UPDATE_DECIDE,
        DecisionRequest(step="restore", approve=True, actor="bob", via="test"),
        result_type=VoteReceipt,
    )

    async def restored() -> list[tuple[str, str]] | None:
        calls = engine.provider.calls
        return calls if ("undo", "snapshot") in calls else None

    await eventually(restored)
    verified = await engine.cli("audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "chain verified" in verified.output
    with open_store(engine.settings, head_checkpoints(engine.settings)).transaction() as session:
        row = session.query(AuditEntry).filter_by(action="playbook.restore.requested").one()
        row.actor = "someone-else"
        tampered = row.id
    broken = await engine.cli("audit", "verify")
    assert broken.exit_code == 1
    assert f"row {tampered}: content does not match its hash: edited" in broken.output
    closed = await engine.cli("incidents", "close", ref)
    assert closed.exit_code == 0, closed.output
