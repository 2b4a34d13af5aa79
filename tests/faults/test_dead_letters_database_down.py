"""PostgreSQL unreachable, or every pooled connection busy, when intake refuses a request: a
refused request is kept as a dead letter, so while the store cannot keep it the answer is 503
with Retry-After (never a 400/422 naming a `dead_letter_id` that was not stored), and the
sender's retry, once the store is back, gets its dead letter, stored exactly once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

from smokejumper.store.tables import DeadLetter
from tests.faults.conftest import Api, api_only
from tests.faults.proxy import TcpProxy
from tests.helpers import eventually, make_settings

# Refused for three reasons: bad JSON (400), invalid generic alert, invalid source format.
REFUSED: list[tuple[str, bytes, int]] = [
    ("/api/v1/alerts", b"{not json", 400),
    ("/api/v1/alerts", json.dumps({"source": "dlp", "title": "no kind"}).encode(), 422),
    ("/api/v1/alerts/llm-guard", json.dumps({"direction": "sideways"}).encode(), 422),
]


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[tuple[TcpProxy, str]]:
    direct = make_url(postgres_url)
    assert direct.host is not None and direct.port is not None
    cut = TcpProxy(direct.host, direct.port)
    try:
        yield cut, direct.set(port=cut.port).render_as_string(hide_password=False)
    finally:
        cut.close()


async def post(api: Api, path: str, body: bytes) -> httpx.Response:
    # Longer than the pool's wait for a free connection (30 s).
    return await api.http.post(
        path, content=body, headers={"content-type": "application/json"}, timeout=60
    )


def dead_letters(api: Api) -> int:
    with api.store.session() as session:
        return session.scalar(select(func.count()).select_from(DeadLetter)) or 0


async def assert_retry_keeps_each_once(api: Api) -> None:
    before = dead_letters(api)
    for path, body, status in REFUSED:

        async def kept(
            path: str = path, body: bytes = body, status: int = status
        ) -> httpx.Response | None:
            response = await post(api, path, body)
            assert response.status_code in (status, 503), response.text
            return response if response.status_code == status else None

        answer = (await eventually(kept, within=30, interval=0.5)).json()
        stored = await api.http.get(f"/api/v1/dead-letters/{answer['dead_letter_id']}")
        assert stored.status_code == 200, stored.text
        assert stored.json()["raw_body"] == body.decode()
    assert dead_letters(api) == before + len(REFUSED)


def assert_retry_later(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.json().get("dead_letter_id") is None


async def test_a_refused_alert_gets_503_while_its_dead_letter_cannot_be_stored(
    tmp_path: Path, proxy: tuple[TcpProxy, str], temporal_env: WorkflowEnvironment
) -> None:
    cut, url = proxy
    target = temporal_env.client.service_client.config.target_host
    async with api_only(make_settings(tmp_path, url, target)) as api:
        letter = (await post(api, *REFUSED[1][:2])).json()["dead_letter_id"]

        cut.cut()
        for path, body, _ in REFUSED:
            assert_retry_later(await post(api, path, body))
        replay = await api.http.post(f"/api/v1/dead-letters/{letter}/replay", json={})
        assert_retry_later(replay)
        cut.restore()

        assert dead_letters(api) == 1
        await assert_retry_keeps_each_once(api)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_refused_alert_gets_503_while_every_connection_is_busy(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    target = temporal_env.client.service_client.config.target_host
    async with api_only(make_settings(tmp_path, database_url, target)) as api:
        pool: Any = api.store.engine.pool
        # The API waits 30 s for a free connection; the answer after that wait is what is
        # under test, not its length.
        pool._timeout = 2
        with ExitStack() as held:
            # Hold every connection the API may open (its pool and overflow), as a storm
            # of slow transactions would.
            for _ in range(pool.size() + pool._max_overflow):
                held.enter_context(api.store.engine.connect())
            answers = await asyncio.gather(*(post(api, p, b) for p, b, _ in REFUSED))
        for answer in answers:
            assert_retry_later(answer)
        assert dead_letters(api) == 0
        await assert_retry_keeps_each_once(api)
