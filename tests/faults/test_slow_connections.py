"""10,000 slow unauthenticated connections (a slowloris crowd in another process) against
the API as `smokejumper api` serves it: `/healthz` and authenticated intake keep answering.

The API process gets a file-descriptor limit below the crowd's size, as a service usually
has: without the connection cap, the crowd's sockets use up the descriptors and nothing
else can connect (that is what took `/healthz` down)."""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.engine import Engine, engine_on
from tests.test_end_to_end import example

SLOW_CLIENTS = int(os.environ.get("SMOKEJUMPER_SLOW_CLIENTS", "10000"))
# Below the crowd's size, above what the API needs besides (the cap is 2,048 by default).
DESCRIPTORS = 6000
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
        sources={"guard": {"format": "generic", "token": GUARD_TOKEN}},
    ) as running:
        yield running


@pytest.fixture
def few_descriptors() -> Iterator[tuple[int, int]]:
    """This process (the API's) gets DESCRIPTORS; yields the limits it had."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(DESCRIPTORS, soft), hard))
    try:
        yield soft, hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
async def test_healthz_and_intake_answer_under_slow_connections(
    engine: Engine, few_descriptors: tuple[int, int]
) -> None:
    address = urlsplit(engine.base_url)
    assert few_descriptors[0] > SLOW_CLIENTS + 100, "the crowd needs a socket per client"

    def crowd_limits() -> None:  # the crowd's process keeps the machine's limit
        resource.setrlimit(resource.RLIMIT_NOFILE, few_descriptors)

    crowd = subprocess.Popen(  # noqa: ASYNC220 - started once, read in a thread
        [
            sys.executable,
            str(Path(__file__).with_name("slow_clients.py")),
            str(address.hostname),
            str(address.port),
            str(SLOW_CLIENTS),
        ],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=crowd_limits,
    )
    try:
        assert crowd.stdout is not None
        ready = await asyncio.wait_for(asyncio.to_thread(crowd.stdout.readline), timeout=120)
        # Every slow client got in at least once: the server took them all, evicting some.
        assert ready.strip() == f"connected {SLOW_CLIENTS}", ready
        answered: list[int] = []
        dropped: list[str] = []
        async with httpx.AsyncClient(base_url=engine.base_url, timeout=10) as client:
            guard = {"Authorization": f"Bearer {GUARD_TOKEN}"}

            async def once(send: Callable[[], Awaitable[httpx.Response]]) -> int:
                # The crowd reconnects thousands of times a second, each new connection
                # evicting the oldest still without a request head, so a fresh connection
                # can be evicted before the server has read its head (this client shares the
                # API's event loop). Such a drop happens before the request is handled, so
                # sending again is safe, as any client does; a drop mid-request is not.
                for _ in range(3):
                    try:
                        return (await send()).status_code
                    except (httpx.ReadError, httpx.RemoteProtocolError) as dropped_by:
                        dropped.append(type(dropped_by).__name__)
                raise AssertionError(f"dropped three times running: {dropped}")

            for n in range(10):
                answered.append(await once(lambda: client.get("/healthz")))
                alert = example(source="guard", dedup_key=f"slow-{n}")
                post = partial(client.post, "/api/v1/alerts/guard", json=alert, headers=guard)
                answered.append(await once(post))
                await asyncio.sleep(0.5)
        assert answered == [200, 202] * 10
        # An evicted fresh connection is rare: most requests get through the first time.
        assert len(dropped) <= 5, dropped
        assert crowd.poll() is None, "the crowd gave up: it did not hold its connections"
    finally:
        crowd.kill()
        crowd.wait()
