"""Cheap attacks on the API, against the server as `smokejumper api` runs it: the sender is
authenticated before its body is read, heads and bodies have deadlines, connections are
capped without locking anyone out, and each source has a rate limit (429, Retry-After)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.engine import Engine, engine_on
from tests.test_end_to_end import example

GUARD_TOKEN = "guard-token-0123456789"
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest_asyncio.fixture
async def engine(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Engine]:
    async with engine_on(
        tmp_path,
        database_url,
        temporal_env,
        api={"header_timeout_seconds": 1, "body_timeout_seconds": 1, "max_connections": 32},
        sources={
            "guard": {
                "format": "generic",
                "token": GUARD_TOKEN,
                "rate_limit_per_second": 0.5,
                "rate_limit_burst": 2,
            }
        },
    ) as running:
        yield running


async def raw(engine: Engine) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = urlsplit(engine.base_url)
    assert address.hostname is not None and address.port is not None
    return await asyncio.open_connection(address.hostname, address.port)


def head(path: str, length: int, token: str | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: smokejumper", f"Content-Length: {length}"]
    lines += ["Content-Type: application/json"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_an_unauthenticated_sender_is_refused_before_its_body_is_read(
    engine: Engine,
) -> None:
    reader, writer = await raw(engine)
    # A megabyte announced, not a byte of it sent: the answer does not wait for it.
    writer.write(head("/api/v1/alerts", 1024 * 1024))
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), timeout=5)
    assert status.startswith(b"HTTP/1.1 401"), status
    writer.close()


async def test_a_body_that_trickles_in_gets_408(engine: Engine) -> None:
    reader, writer = await raw(engine)
    writer.write(head("/api/v1/alerts", 500, GUARD_TOKEN) + b'{"title": ')
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), timeout=5)
    assert status.startswith(b"HTTP/1.1 408"), status
    writer.close()


async def test_a_head_that_never_ends_is_cut_off(engine: Engine) -> None:
    reader, writer = await raw(engine)
    writer.write(b"POST /api/v1/alerts HTTP/1.1\r\nHost: smokejumper\r\n")
    await writer.drain()
    cut = False
    try:
        for _ in range(10):  # a header a while: never the blank line that ends the head
            await asyncio.sleep(0.5)
            writer.write(b"X-Trickle: 1\r\n")
            await writer.drain()
    except ConnectionError:
        cut = True  # cut off while trickling
    if not cut:
        try:
            cut = await asyncio.wait_for(reader.read(), timeout=5) == b""
        except ConnectionError:
            cut = True
    assert cut
    writer.close()


async def test_at_the_connection_cap_slow_clients_make_room_for_real_ones(
    engine: Engine,
) -> None:
    stalled = [await raw(engine) for _ in range(100)]
    for _, writer in stalled:
        writer.write(b"GET /healthz HTTP/1.1\r\n")
    async with httpx.AsyncClient(base_url=engine.base_url, timeout=5) as client:
        for _ in range(5):
            assert (await client.get("/healthz")).status_code == 200
        accepted = await client.post(
            "/api/v1/alerts/guard",
            json=json.loads(json.dumps(example(source="guard"))),
            headers={"Authorization": f"Bearer {GUARD_TOKEN}"},
        )
        assert accepted.status_code == 202, accepted.text
    dropped = 0
    for reader, writer in stalled:
        try:
            dropped += await asyncio.wait_for(reader.read(), timeout=5) == b""
        except ConnectionError:
            dropped += 1
        writer.close()
    assert dropped == len(stalled)


async def test_a_source_over_its_rate_limit_gets_429_with_retry_after(engine: Engine) -> None:
    async with httpx.AsyncClient(base_url=engine.base_url, timeout=10) as client:
        guard = {"Authorization": f"Bearer {GUARD_TOKEN}"}
        answers = [
            await client.post("/api/v1/alerts/guard", json=example(source="guard"), headers=guard)
            for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [202, 202, 429], answers[-1].text
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert "rate limit" in answers[-1].json()["error"]
        # The operator is not limited by the source's bucket.
        operator = await engine.http.post("/api/v1/alerts", json=example(source="guard"))
        assert operator.status_code == 202, operator.text
