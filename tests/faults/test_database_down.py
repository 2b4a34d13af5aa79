"""PostgreSQL unreachable for a while (a proxy in front of it is cut): new alerts are
answered 503 with Retry-After, never a 202 for an alert that was not stored, and intake
recovers by itself once the database is back."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

from smokejumper.store.tables import AlertRow, Incident
from tests.faults.conftest import api_only
from tests.faults.proxy import TcpProxy
from tests.helpers import eventually, make_settings


async def test_alerts_get_503_with_retry_after_while_the_database_is_gone(
    tmp_path: Path, postgres_url: str, temporal_env: WorkflowEnvironment
) -> None:
    direct = make_url(postgres_url)
    assert direct.host is not None and direct.port is not None
    proxy = TcpProxy(direct.host, direct.port)
    through_proxy = direct.set(port=proxy.port).render_as_string(hide_password=False)
    settings = make_settings(
        tmp_path, through_proxy, temporal_env.client.service_client.config.target_host
    )
    try:
        async with api_only(settings) as api:
            before = await api.alert(title="before the outage", principal={"user": "a"})

            proxy.cut()
            during = {"title": "during the outage", "severity": "high", "principal": {"user": "b"}}
            refused = await api.http.post(
                "/api/v1/alerts", json={"source": "dlp", "kind": "data_leakage", **during}
            )
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["retry-after"]) > 0
            health = await api.http.get("/healthz")
            assert health.status_code == 503

            proxy.restore()

            # The sender retries as told; the API's pool reconnects on its own.
            async def accepted() -> httpx.Response | None:
                response = await api.http.post(
                    "/api/v1/alerts", json={"source": "dlp", "kind": "data_leakage", **during}
                )
                assert response.status_code in (202, 503), response.text
                return response if response.status_code == 202 else None

            after = (await eventually(accepted, within=30, interval=0.5)).json()
            assert (await api.http.get("/healthz")).status_code == 200
            with api.store.session() as session:
                assert session.scalar(select(func.count()).select_from(AlertRow)) == 2
                refs = set(session.scalars(select(Incident.ref)))
            assert refs == {before["incident_id"], after["incident_id"]}
    finally:
        proxy.close()
