"""Duplicates of a running incident reach its playbook coalesced: one `alerts` signal per
window instead of one signal per alert, every alert counted and marked dispatched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from smokejumper.domain.incidents import QUERY_STATE, SIGNAL_ALERT, SIGNAL_ALERTS, IncidentState
from smokejumper.intake.batching import Coalescer
from smokejumper.store.tables import AlertRow
from tests.engine import Engine, running_engine
from tests.helpers import eventually, make_settings

DUPLICATES = 30


async def test_items_of_a_key_within_the_window_go_together() -> None:
    delivered: list[tuple[str, list[int]]] = []

    async def deliver(key: str, items: list[int]) -> None:
        delivered.append((key, items))

    coalescer: Coalescer[int] = Coalescer(0.2, deliver)
    coalescer.add("a", 1)
    coalescer.add("b", 2)
    coalescer.add("a", 3)
    await asyncio.sleep(0.4)
    coalescer.add("a", 4)  # a new window
    await coalescer.close()  # delivered at once, not after the window

    assert sorted(delivered) == [("a", [1, 3]), ("a", [4]), ("b", [2])]


def _alert(n: int) -> dict[str, object]:
    return {
        "source": "api",
        "kind": "other",
        "severity": "low",
        "title": f"repeat {n}",
        "principal": {"user": "coalesced-user"},
        "target": {"application": "support-bot"},
    }


async def _engine(
    tmp_path: Path, database_url: str, env: WorkflowEnvironment, window: float
) -> AsyncIterator[Engine]:
    target = env.client.service_client.config.target_host
    settings = make_settings(
        tmp_path, database_url, target, intake={"duplicate_signal_window_seconds": window}
    )
    async with running_engine(settings, env.client) as running:
        yield running


@pytest_asyncio.fixture
async def engine(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Engine]:
    async for running in _engine(tmp_path, database_url, temporal_env, window=0.5):
        yield running


@pytest_asyncio.fixture
async def uncoalesced(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Engine]:
    async for running in _engine(tmp_path, database_url, temporal_env, window=0):
        yield running


async def _storm(engine: Engine) -> tuple[str, dict[str, int]]:
    """The first alert opens the incident; then duplicates from 10 senders at once. The
    incident's workflow id and how many of each alert signal its history holds."""
    first = await engine.http.post("/api/v1/alerts", json=_alert(0))
    assert first.status_code == 202, first.text
    workflow_id: str = first.json()["workflow_id"]
    pending = iter(range(1, DUPLICATES + 1))

    async def sender() -> None:
        for n in pending:
            response = await engine.http.post("/api/v1/alerts", json=_alert(n))
            assert response.status_code == 202, response.text
            assert response.json()["deduplicated"] is True

    await asyncio.gather(*(sender() for _ in range(10)))
    handle = engine.client.get_workflow_handle(workflow_id)

    async def all_seen() -> bool:
        state = await handle.query(QUERY_STATE, result_type=IncidentState)
        return state.alerts_seen == DUPLICATES + 1

    await eventually(all_seen, within=30)

    def undispatched() -> int:
        with engine.store.session() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(AlertRow)
                    .where(AlertRow.dispatched_at.is_(None))
                )
                or 0
            )

    async def confirmed() -> bool:
        return undispatched() == 0

    await eventually(confirmed, within=30)
    signals: dict[str, int] = {}
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            name = event.workflow_execution_signaled_event_attributes.signal_name
            signals[name] = signals.get(name, 0) + 1
    return workflow_id, signals


async def test_duplicates_ride_one_signal_per_window(engine: Engine) -> None:
    _, signals = await _storm(engine)
    # The first alert came with the start; the duplicates in a handful of batches.
    assert signals.get(SIGNAL_ALERT, 0) == 1
    assert 1 <= signals.get(SIGNAL_ALERTS, 0) < DUPLICATES // 3


async def test_with_no_window_every_duplicate_is_its_own_signal(uncoalesced: Engine) -> None:
    _, signals = await _storm(uncoalesced)
    assert signals == {SIGNAL_ALERT: DUPLICATES + 1}
