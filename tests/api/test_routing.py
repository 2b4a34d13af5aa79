"""Routing from configuration: first match wins, the choice is recorded, bad routes refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.main import app as cli_app
from playbooks.triage import Triage
from smokejumper.store.tables import Incident
from tests.api.routed_playbook import ContainInjection
from tests.engine import Engine, engine_on
from tests.helpers import eventually
from tests.test_end_to_end import example

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest_asyncio.fixture
async def engine(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Engine]:
    async with engine_on(
        tmp_path,
        database_url,
        temporal_env,
        [Triage, ContainInjection],
        routes=[
            {
                "playbook": "contain-injection",
                "kinds": ["prompt_injection"],
                "min_severity": "high",
                "labels": {"env": "production"},
            }
        ],
        intake={"reopen_window_seconds": 3600},
    ) as running:
        yield running


@SQLITE_ONLY
async def test_matching_alert_runs_the_routed_playbook(engine: Engine) -> None:
    routed = (await engine.http.post("/api/v1/alerts", json=example())).json()
    assert routed["playbook"] == "contain-injection"
    fallback = (
        await engine.http.post("/api/v1/alerts", json=example(severity="medium", kind="other"))
    ).json()
    assert fallback["playbook"] == "triage"

    description = await engine.client.get_workflow_handle(routed["workflow_id"]).describe()
    assert description.workflow_type == "contain-injection"
    with engine.store.session() as session:
        incidents = {i.playbook: i for i in session.scalars(select(Incident))}
    assert incidents["contain-injection"].route["matched"] is True
    assert "route #1 (config)" in incidents["contain-injection"].route["reason"]
    assert incidents["triage"].route["matched"] is False
    assert "no playbook" in incidents["triage"].route["reason"]


@SQLITE_ONLY
async def test_alert_soon_after_closing_reopens_the_same_incident(engine: Engine) -> None:
    first = (await engine.http.post("/api/v1/alerts", json=example())).json()
    closed = await engine.http.post(f"/api/v1/incidents/{first['incident_id']}/close", json={})
    assert closed.status_code == 200, closed.text
    again = (await engine.http.post("/api/v1/alerts", json=example())).json()
    assert again["incident_id"] == first["incident_id"]

    async def running_again() -> list[str] | None:
        detail = (await engine.http.get(f"/api/v1/incidents/{first['incident_id']}")).json()
        kinds = [event["kind"] for event in detail["timeline"]]
        return kinds if kinds.count("playbook.started") == 2 else None

    kinds = await eventually(running_again)
    assert "incident.reopened" in kinds
    with engine.store.session() as session:
        incident = session.scalars(select(Incident)).one()
        assert incident.status == "open"
        assert incident.alert_count == 2


def test_route_to_an_unknown_playbook_stops_the_api_at_start(tmp_path: Path) -> None:
    (tmp_path / "smokejumper.toml").write_text(
        '[[routes]]\nplaybook = "no-such-playbook"\nkinds = ["jailbreak"]\n'
    )
    result = CliRunner().invoke(cli_app, ["api"])
    assert result.exit_code == 2
    assert "routes.0.playbook: no playbook named 'no-such-playbook'" in result.output
