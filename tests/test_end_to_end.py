"""One alert end to end, on the real Temporal dev server and both databases.

CLI `alert send` → API → store → signal-with-start `incident-<fingerprint>` → worker runs
the playbook → activity writes the timeline → CLI `incidents list|show`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.main import app as cli_app
from smokejumper.domain.incidents import QUERY_STATE, IncidentState
from smokejumper.store.tables import AlertRow, DeadLetter, Incident, TimelineEvent
from smokejumper.temporal import search_attributes
from tests.engine import Engine, running_engine
from tests.helpers import eventually, free_port, make_settings

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "alerts" / "generic.json"


@pytest_asyncio.fixture
async def engine(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Engine]:
    target = temporal_env.client.service_client.config.target_host
    settings = make_settings(tmp_path, database_url, target)
    async with running_engine(settings, temporal_env.client) as running:
        yield running


def example(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    data.update(changes)
    return data


async def timeline_kinds(engine: Engine, ref: str) -> list[str]:
    response = await engine.http.get(f"/api/v1/incidents/{ref}")
    assert response.status_code == 200
    return [event["kind"] for event in response.json()["timeline"]]


async def test_example_alert_opens_an_incident_with_a_running_playbook(engine: Engine) -> None:
    result = await engine.cli("alert", "send", str(EXAMPLE), "--json")
    assert result.exit_code == 0, result.output
    accepted = json.loads(result.output)
    assert accepted["deduplicated"] is False
    assert accepted["incident_id"].startswith("INC-")
    assert accepted["workflow_id"].startswith("incident-")
    ref = accepted["incident_id"]

    # The workflow recorded its start through an activity.
    # A prompt injection: the built-in prompt-injection playbook contains it and stays open.
    async def finished() -> list[str] | None:
        kinds = await timeline_kinds(engine, ref)
        return kinds if "playbook.finished" in kinds else None

    kinds = await eventually(finished, within=60)
    assert kinds[:3] == ["incident.opened", "alert.received", "playbook.started"]

    handle = engine.client.get_workflow_handle(accepted["workflow_id"])
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    assert description.workflow_type == "prompt-injection"
    attributes = description.typed_search_attributes
    assert attributes.get(search_attributes.INCIDENT_ID) == ref
    assert attributes.get(search_attributes.SEVERITY) == "high"
    assert attributes.get(search_attributes.PLAYBOOK) == "prompt-injection"
    assert attributes.get(search_attributes.INCIDENT_STATUS) == "contained"

    listing = await engine.cli("incidents", "list")
    assert listing.exit_code == 0, listing.output
    assert ref in listing.output
    assert "prompt_injection" in listing.output
    assert "1 of 1 incidents" in listing.output

    shown = await engine.cli("incidents", "show", ref)
    assert shown.exit_code == 0, shown.output
    assert "playbook.started" in shown.output
    assert "LLM01" in shown.output and "AML.T0051.000" in shown.output
    # Its alerts, as the help says, not only their count.
    assert "\nAlerts\n" in shown.output
    assert accepted["alert_id"] in shown.output

    shown_json = json.loads((await engine.cli("incidents", "show", ref, "--json")).output)
    assert shown_json["alert_count"] == 1
    assert shown_json["alerts"][0]["id"] == accepted["alert_id"]
    assert shown_json["alerts"][0]["dispatched"] is True


async def test_same_alert_twice_is_one_incident_with_two_alerts(engine: Engine) -> None:
    first = (await engine.http.post("/api/v1/alerts", json=example())).json()
    second = (await engine.http.post("/api/v1/alerts", json=example(title="again"))).json()
    assert second["deduplicated"] is True
    assert second["incident_id"] == first["incident_id"]
    assert second["workflow_id"] == first["workflow_id"]
    assert second["alert_id"] != first["alert_id"]

    handle = engine.client.get_workflow_handle(first["workflow_id"])

    async def seen_both() -> IncidentState | None:
        state: IncidentState = await handle.query(QUERY_STATE, result_type=IncidentState)
        return state if state.alerts_seen == 2 else None

    await eventually(seen_both)
    with engine.store.session() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        incident = session.scalars(select(Incident)).one()
        assert incident.alert_count == 2
        assert session.scalar(select(func.count()).select_from(AlertRow)) == 2
    # One run only: signal-with-start joined the running playbook instead of a second one.
    query = (
        f"WorkflowId = '{first['workflow_id']}' "
        f"AND TaskQueue = '{engine.settings.temporal.task_queue}'"
    )
    runs = [w async for w in engine.client.list_workflows(query)]
    assert len(runs) == 1


async def test_concurrent_duplicates_open_exactly_one_incident(engine: Engine) -> None:
    responses = await asyncio.gather(
        *(engine.http.post("/api/v1/alerts", json=example(title=f"n{i}")) for i in range(20))
    )
    assert [r.status_code for r in responses] == [202] * 20
    bodies = [r.json() for r in responses]
    assert len({b["incident_id"] for b in bodies}) == 1
    assert sum(1 for b in bodies if not b["deduplicated"]) == 1
    with engine.store.session() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        assert session.scalars(select(Incident)).one().alert_count == 20


async def test_closed_incident_frees_its_fingerprint(engine: Engine) -> None:
    first = (await engine.http.post("/api/v1/alerts", json=example())).json()
    ref = first["incident_id"]
    closed = await engine.cli("incidents", "close", ref, "--reason", "false positive")
    assert closed.exit_code == 0, closed.output
    handle = engine.client.get_workflow_handle(first["workflow_id"])

    # Closed while its playbook was still containing: the run ends with the incident.
    async def completed() -> bool:
        return (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

    await eventually(completed, within=60)

    again = await engine.cli("incidents", "close", ref)
    assert again.exit_code == 1
    assert "already closed" in again.output

    reopened = (await engine.http.post("/api/v1/alerts", json=example())).json()
    assert reopened["deduplicated"] is False
    assert reopened["incident_id"] != ref
    # The new incident has a run of its own, named for it.
    assert reopened["workflow_id"] != first["workflow_id"]
    assert reopened["workflow_id"].startswith(f"incident-{first['workflow_id'].split('-')[1]}-")
    with engine.store.session() as session:
        statuses = dict(session.execute(select(Incident.ref, Incident.status)).all())
        assert set(statuses) == {ref, reopened["incident_id"]}
        assert statuses[ref] == "closed"
        # The new incident's playbook is at work on it (open, acknowledged or contained).
        assert statuses[reopened["incident_id"]] != "closed"
        closing = session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.kind == "incident.status", TimelineEvent.message.contains("closed")
            )
        ).one()
        assert closing.actor == "operator"
        assert "false positive" in closing.message


async def test_invalid_alert_is_rejected_by_field_and_kept(engine: Engine) -> None:
    bad = example(severity="catastrophic", owasp=["LLM11"])
    del bad["title"]
    result = await engine.cli("alert", "send", "-", stdin=json.dumps(bad))
    assert result.exit_code == 1
    assert "severity:" in result.output
    assert "title: Field required" in result.output
    assert "owasp.0:" in result.output
    assert "kept as dead letter" in result.output

    response = await engine.http.post("/api/v1/alerts", json=bad)
    assert response.status_code == 422
    fields = {item["field"] for item in response.json()["fields"]}
    assert fields == {"severity", "title", "owasp.0"}
    with engine.store.session() as session:
        letters = session.scalars(select(DeadLetter)).all()
        assert len(letters) == 2
        assert all(letter.source == "llm-guard" for letter in letters)
        assert json.loads(letters[1].raw_body) == bad
        assert session.scalar(select(func.count()).select_from(Incident)) == 0


async def test_unparsable_and_oversized_bodies(engine: Engine) -> None:
    response = await engine.http.post(
        "/api/v1/alerts",
        content=b"{not json",
        headers={"content-type": "application/json", "x-api-key": "s3cr3t-key"},
    )
    assert response.status_code == 400
    with engine.store.session() as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert letter.raw_body == "{not json"
        # The operator's bearer token and other credential headers are never kept.
        assert "authorization" not in letter.headers
        assert "x-api-key" not in letter.headers
        assert letter.headers["content-type"] == "application/json"

    huge = json.dumps(example(description="x" * (engine.settings.api.max_body_bytes + 1)))
    response = await engine.http.post("/api/v1/alerts", content=huge)
    assert response.status_code == 413


async def test_unknown_incident_is_a_clear_404(engine: Engine) -> None:
    result = await engine.cli("incidents", "show", "INC-2026-9999")
    assert result.exit_code == 1
    assert "no incident 'INC-2026-9999'" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_cli_reports_an_unreachable_api(engine: Engine) -> None:
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli_app,
        ["incidents", "list"],
        env={
            "SMOKEJUMPER_API__PORT": str(free_port()),
            "SMOKEJUMPER_DATA_DIR": str(engine.settings.data_dir),
        },
    )
    assert result.exit_code == 3
    assert "cannot reach the smokejumper API" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_cli_without_operator_token_says_how_to_get_one(
    engine: Engine, tmp_path: Path
) -> None:
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli_app,
        ["incidents", "list"],
        env={"SMOKEJUMPER_DATA_DIR": str(tmp_path / "elsewhere")},
    )
    assert result.exit_code == 2
    assert "SMOKEJUMPER_API__OPERATOR_TOKEN" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_incident_endpoints_require_the_operator_token(engine: Engine) -> None:
    async with httpx.AsyncClient(base_url=engine.base_url) as anonymous:
        assert (await anonymous.get("/api/v1/incidents")).status_code == 401
        wrong = {"authorization": "Bearer not-the-token"}
        assert (await anonymous.get("/api/v1/incidents/1", headers=wrong)).status_code == 401
        assert (await anonymous.get("/healthz")).status_code == 200


async def test_a_generic_alert_naming_no_taxonomy_gets_its_kinds(engine: Engine) -> None:
    """A responder filters and reports by OWASP and ATLAS: an alert that names none is
    filed under its kind's entries; one that names its own keeps them."""
    # Keys of this test alone: the dev server is shared, and a workflow id is per fingerprint.
    bare = example(kind="model_compromise", owasp=[], atlas=[], dedup_key=uuid.uuid4().hex)
    accepted = await engine.http.post("/api/v1/alerts", json=bare)
    assert accepted.status_code == 202, accepted.text
    detail = (await engine.http.get(f"/api/v1/incidents/{accepted.json()['incident_id']}")).json()
    assert detail["owasp"] == ["LLM03", "LLM04"]
    assert detail["atlas"] == ["AML.T0010", "AML.T0018"]

    named = example(kind="model_compromise", owasp=["LLM04"], atlas=[], dedup_key=uuid.uuid4().hex)
    accepted = await engine.http.post("/api/v1/alerts", json=named)
    detail = (await engine.http.get(f"/api/v1/incidents/{accepted.json()['incident_id']}")).json()
    assert detail["owasp"] == ["LLM04"]
    assert detail["atlas"] == ["AML.T0010", "AML.T0018"]
