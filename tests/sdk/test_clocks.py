"""Regulatory clocks: deadlines, reminders, breach escalation and filings, in durable time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from smokejumper.config import load_settings
from smokejumper.domain.incidents import (
    QUERY_STATE,
    SIGNAL_STOP_CLOCK,
    IncidentState,
)
from smokejumper.sdk.clocks import ClockKind, StopClock, deadline_for
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident, TimelineEvent
from smokejumper.temporal import search_attributes
from tests.helpers import eventually, insert_incident, start_playbook
from tests.sdk.sample_playbooks import FakeProvider, GdprClock
from workers.worker import activities_for, sandboxed_runner


def test_deadlines_per_regulation() -> None:
    aware = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # a Friday
    assert deadline_for(ClockKind.GDPR_ART33, aware, None) == aware + timedelta(hours=72)
    assert deadline_for(ClockKind.EU_AI_ACT_ART73, aware, None) == aware + timedelta(days=15)
    assert deadline_for(ClockKind.EU_AI_ACT_ART73_WIDESPREAD, aware, None) == aware + timedelta(
        days=2
    )
    assert deadline_for(ClockKind.EU_AI_ACT_ART73_DEATH, aware, None) == aware + timedelta(days=10)
    # Four business days after a Friday determination: Mon, Tue, Wed, Thu, to the end of
    # Thursday in New York (tests/sdk/test_sec_8k_deadlines.py has the whole table).
    assert deadline_for(ClockKind.SEC_8K_ITEM_105, aware, None) == datetime(
        2026, 12, 4, 4, 59, 59, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="custom clock needs a duration"):
        deadline_for(ClockKind.CUSTOM, aware, None)


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


@pytest_asyncio.fixture
async def running(
    time_skipping_env: WorkflowEnvironment, store: Store
) -> AsyncIterator[tuple[WorkflowEnvironment, WorkflowHandle[GdprClock, IncidentState]]]:
    client: Client = time_skipping_env.client
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    now = await time_skipping_env.get_current_time()
    start = insert_incident(store, playbook="test-gdpr-clock", kind="data_leakage", opened_at=now)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[GdprClock],
        activities=[*activities_for(store, load_settings()), FakeProvider().action],
        workflow_runner=sandboxed_runner(),
    ):
        handle = await start_playbook(client, "test-gdpr-clock", start, queue)
        yield time_skipping_env, handle
        await handle.terminate("test finished")


def kinds(store: Store) -> list[str]:
    with store.session() as session:
        return [e.kind for e in session.query(TimelineEvent).order_by(TimelineEvent.id)]


async def clock_state(handle: WorkflowHandle[GdprClock, IncidentState]) -> IncidentState:
    state: IncidentState = await handle.query(QUERY_STATE, result_type=IncidentState)
    return state


async def test_reminders_then_breach_escalates(
    running: tuple[WorkflowEnvironment, WorkflowHandle[GdprClock, IncidentState]], store: Store
) -> None:
    env, handle = running

    async def started() -> IncidentState | None:
        state = await clock_state(handle)
        return state if state.clocks else None

    state = await eventually(started)
    with store.session() as session:
        assert session.query(Incident).one().severity == "critical"
    assert "incident.severity" in kinds(store)
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(search_attributes.SEVERITY) == "critical"
    clock = state.clocks[0]
    assert clock.kind == "gdpr-art33"
    assert clock.deadline - clock.started_at == timedelta(hours=72)

    await env.sleep(timedelta(hours=49))  # past "24 h left"
    await eventually(lambda: _has(store, "clock.reminder", 1))
    await env.sleep(timedelta(hours=20))  # past "4 h left"
    await eventually(lambda: _has(store, "clock.reminder", 2))
    assert "clock.breached" not in kinds(store)
    await env.sleep(timedelta(hours=4))  # past the deadline
    await eventually(lambda: _has(store, "clock.breached", 1))
    state = await clock_state(handle)
    assert state.clocks[0].breached
    assert state.clocks[0].reminders_sent == 2
    with store.session() as session:
        breach = session.query(TimelineEvent).filter_by(kind="clock.breached").one()
        assert "group:dpo" in breach.message


async def test_filing_stops_the_clock(
    running: tuple[WorkflowEnvironment, WorkflowHandle[GdprClock, IncidentState]], store: Store
) -> None:
    env, handle = running

    async def started() -> IncidentState | None:
        state = await clock_state(handle)
        return state if state.clocks else None

    await eventually(started)
    await env.sleep(timedelta(hours=10))
    filed_at = await env.get_current_time()
    await handle.signal(
        SIGNAL_STOP_CLOCK,
        StopClock(clock="gdpr-art33", actor="dpo-anna", filed_at=filed_at, reference="DPA-123"),
    )
    await eventually(lambda: _has(store, "clock.stopped", 1))
    # A second filing is refused and says why; time passing afterwards raises nothing.
    await handle.signal(
        SIGNAL_STOP_CLOCK, StopClock(clock="gdpr-art33", actor="bob", filed_at=filed_at)
    )
    await eventually(lambda: _has(store, "clock.refused", 1))
    await env.sleep(timedelta(hours=100))
    assert "clock.reminder" not in kinds(store)
    assert "clock.breached" not in kinds(store)
    state = await clock_state(handle)
    assert (state.clocks[0].stopped_by, state.clocks[0].reference) == ("dpo-anna", "DPA-123")


async def _has(store: Store, kind: str, count: int) -> bool:
    return kinds(store).count(kind) >= count
