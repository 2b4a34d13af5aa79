"""Dispatch marks ride the group commit: the marks waiting when the next alerts are stored
are made in that same transaction, and marks a failed transaction took are made later."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from smokejumper.domain.alerts import Alert
from smokejumper.domain.fingerprint import fingerprint
from smokejumper.domain.routing import Router
from smokejumper.intake.batching import Confirmations
from smokejumper.intake.recorder import Pending, Recorded, Recorder
from smokejumper.store.db import Store
from smokejumper.store.tables import AlertRow
from tests.helpers import eventually


def _pending(n: int) -> Pending:
    alert = Alert.model_validate(
        {
            "source": "api",
            "kind": "other",
            "severity": "low",
            "title": f"repeat {n}",
            "principal": {"user": "confirmed-user"},
        }
    )
    decision = Router([], "triage").route(alert)
    return Pending(alert, alert.model_dump_json(), fingerprint(alert), decision, None)


def _stored(recorder: Recorder, n: int) -> Recorded:
    [recorded] = recorder.record_batch([_pending(n)])
    assert isinstance(recorded, Recorded)
    return recorded


def _dispatched(store: Store) -> set[str]:
    with store.session() as session:
        return set(session.scalars(select(AlertRow.id).where(AlertRow.dispatched_at.is_not(None))))


async def test_waiting_marks_are_made_with_the_next_stored_alerts(migrated_store: Store) -> None:
    recorder = Recorder(migrated_store, timedelta(0))
    confirmations = Confirmations(migrated_store)
    first = _stored(recorder, 0)
    confirmations.add(first.alert_id)
    taken: list[str] = []

    second = recorder.record_batch(
        [_pending(1)], before=lambda session: taken.extend(confirmations.mark_taken(session))
    )

    # Made in the storing transaction, before the confirmations' own write could run.
    assert taken == [first.alert_id]
    assert _dispatched(migrated_store) == {first.alert_id}
    assert isinstance(second[0], Recorded) and second[0].attached.deduplicated
    await confirmations.close()
    assert _dispatched(migrated_store) == {first.alert_id}


async def test_marks_of_a_failed_transaction_are_made_later(migrated_store: Store) -> None:
    recorder = Recorder(migrated_store, timedelta(0))
    confirmations = Confirmations(migrated_store)
    first = _stored(recorder, 0)
    confirmations.add(first.alert_id)
    taken: list[str] = []

    def mark_then_fail(session: Session) -> None:
        taken.extend(confirmations.mark_taken(session))
        raise RuntimeError("the storing transaction fails")

    with pytest.raises(RuntimeError):
        recorder.record_batch([_pending(1)], before=mark_then_fail)
    # What intake does when a storing transaction fails (see IntakeService.accept).
    confirmations.restore(taken)
    assert _dispatched(migrated_store) == set()  # rolled back with the transaction
    confirmations.resume()

    async def written() -> bool:
        return _dispatched(migrated_store) == {first.alert_id}

    await eventually(written, within=10)  # on the confirmations' own timer
    await confirmations.close()


async def test_marks_are_made_when_a_failed_batch_is_written_one_by_one(
    migrated_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batched statements fail, so the batch is written again alert by alert, in a new
    transaction: the marks it took are made there, once, and no others are taken."""
    recorder = Recorder(migrated_store, timedelta(0))
    confirmations = Confirmations(migrated_store)
    first = _stored(recorder, 0)
    confirmations.add(first.alert_id)

    def fails(*_: object) -> list[Recorded]:
        raise ValueError("a batched statement fails")

    monkeypatch.setattr(recorder, "_record_many", fails)
    marks = confirmations.taken_along()
    calls: list[list[str]] = []

    def make(session: Session) -> None:
        marks.make(session)
        calls.append(list(marks.ids))

    stored = recorder.record_batch([_pending(1), _pending(2)], before=make)

    assert all(isinstance(item, Recorded) for item in stored)
    assert calls == [[first.alert_id], [first.alert_id]]
    assert _dispatched(migrated_store) == {first.alert_id}
    with migrated_store.session() as session:
        assert len(session.scalars(select(AlertRow.id)).all()) == 3
    await confirmations.close()


async def test_marks_whose_write_fails_as_the_process_stops_are_written_by_close(
    migrated_store: Store,
) -> None:
    """Closing while the timer's write is under way waits for it; a write that fails then
    is made by close, not left for the outbox after the process has gone."""
    recorder = Recorder(migrated_store, timedelta(0))
    confirmations = Confirmations(migrated_store)
    first = _stored(recorder, 0)
    writing = threading.Event()
    release = threading.Event()
    real_write = confirmations._write
    attempts: list[list[str]] = []

    def slow_then_failing(alert_ids: list[str]) -> None:
        attempts.append(alert_ids)
        if len(attempts) == 1:
            writing.set()
            release.wait(10)
            raise OperationalError("UPDATE alerts", {}, Exception("database is locked"))
        real_write(alert_ids)

    confirmations._write = slow_then_failing  # type: ignore[method-assign]
    confirmations.add(first.alert_id)
    assert await asyncio.to_thread(writing.wait, 10)  # the timer's write is under way

    closing = asyncio.create_task(confirmations.close())
    await asyncio.sleep(0.1)
    release.set()
    await closing

    assert attempts == [[first.alert_id], [first.alert_id]]
    assert _dispatched(migrated_store) == {first.alert_id}
