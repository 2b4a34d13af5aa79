"""The Temporal dev server restarts (same database file) while an approval is pending: the
approval still works afterwards and the playbook carries on."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from bench.playbooks.containment import RevokeThenApprove
from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from smokejumper.temporal.client import connect
from tests.engine import running_engine
from tests.faults.conftest import DevServer
from tests.helpers import eventually, make_settings


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[DevServer]:
    server = DevServer(tmp_path / "temporal")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_pending_approval_survives_a_temporal_restart(
    tmp_path: Path, sqlite_url: str, dev_server: DevServer
) -> None:
    settings = make_settings(
        tmp_path,
        sqlite_url,
        dev_server.settings.target,
        routes=[{"playbook": RevokeThenApprove.name, "kinds": ["model_extraction"]}],
    )
    name = f"sk-local-{uuid.uuid4().hex[:8]}"
    LocalKeys(settings.local_keys_file).create(name)
    endpoints = LocalEndpoints(settings.local_endpoints_file)
    endpoints.create(name)
    client = await connect(settings.temporal)
    async with running_engine(settings, client, [RevokeThenApprove]) as engine:
        alert = {"source": "guard", "kind": "model_extraction", "severity": "high", "title": name}
        ref = (await engine.http.post("/api/v1/alerts", json=alert)).json()["incident_id"]

        def seen(kind: str) -> Callable[[], Awaitable[bool]]:
            async def probe() -> bool:
                detail = (await engine.http.get(f"/api/v1/incidents/{ref}")).json()
                return kind in [event["kind"] for event in detail["timeline"]]

            return probe

        await eventually(seen("approval.requested"))

        dev_server.stop()
        dev_server.start()

        async def approved() -> httpx.Response | None:
            response = await engine.http.post(
                f"/api/v1/incidents/{ref}/approvals/{quote('isolate endpoint')}",
                json={"approve": True, "reason": "after the restart"},
            )
            # While the frontend comes back the API may answer 503; never a refusal.
            assert response.status_code in (200, 503), response.text
            return response if response.status_code == 200 else None

        receipt = (await eventually(approved, within=60, interval=0.5)).json()
        assert receipt["recorded"] is True
        assert receipt["decision"]["outcome"] == "approved"
        await eventually(seen("playbook.finished"), within=60)
        assert endpoints.state(name).status == "isolated"
