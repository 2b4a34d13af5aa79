"""Batching in the intake hot path: group commit of alerts, batched dispatch marks, and
duplicates coalesced into one signal per incident."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

from sqlalchemy import Table, update
from sqlalchemy.orm import Session

from smokejumper.store.db import Store
from smokejumper.store.tables import AlertRow

log = logging.getLogger(__name__)

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class Confirmations:
    """Marks dispatched alerts in batches: one write per ~50 ms instead of one per alert,
    or none of its own while alerts are being stored: the group commit's next transaction
    takes the waiting marks along (`take` in that writer's thread, `restore` if it fails).

    Delivery is at least once: a crash before a batch is written leaves those alerts to the
    outbox, which signals them again; workflows ignore an alert id they have already seen.
    """

    INTERVAL_SECONDS = 0.05
    MAX_BATCH = 500

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[str] = []
        # Taken from the group commit's thread as well as from this loop.
        self._lock = threading.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def add(self, alert_id: str) -> None:
        with self._lock:
            self._pending.append(alert_id)
            waiting = len(self._pending)
        self.resume()
        if waiting >= self.MAX_BATCH:
            self._wake.set()

    def resume(self) -> None:
        """Write waiting marks on this loop's timer (after a writer restored some)."""
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run())

    def take(self) -> list[str]:
        """Up to MAX_BATCH waiting marks, for a writer to make (any thread)."""
        with self._lock:
            batch = self._pending[: self.MAX_BATCH]
            del self._pending[: self.MAX_BATCH]
        return batch

    def restore(self, batch: list[str]) -> None:
        """Marks a writer took but could not make: written with a later batch (any thread)."""
        with self._lock:
            self._pending[:0] = batch

    def mark_taken(self, session: Session) -> list[str]:
        """Make waiting marks in `session`'s transaction; the caller restores the returned
        ones if that transaction does not commit."""
        batch = self.take()
        if batch:
            mark_dispatched(session, batch)
        return batch

    def taken_along(self) -> TakenAlong:
        """The marks one storing batch takes along into its transaction."""
        return TakenAlong(self)

    async def _run(self) -> None:
        while self._pending and not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), self.INTERVAL_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                # The outbox re-sends what was not confirmed; keep the batch for next time.
                log.exception("could not record dispatch confirmations; retrying")
                if not self._closing:
                    await asyncio.sleep(1)

    async def flush(self) -> None:
        batch = self.take()
        if not batch:
            return
        try:
            await asyncio.to_thread(self._write, batch)
        except BaseException:
            self.restore(batch)
            raise

    def _write(self, alert_ids: list[str]) -> None:
        with self.store.transaction() as session:
            mark_dispatched(session, alert_ids)

    async def close(self) -> None:
        """Write every waiting mark. The timer's write under way is waited for, not
        cancelled: cancelled, its marks were put back for a write that never came, while
        its thread's own write could still fail, once the process had gone."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        while self._pending:
            await self.flush()


class TakenAlong:
    """Dispatch marks riding one storing batch. `make` takes the waiting marks into a
    transaction; called again (the batch is written once more, after its first
    transaction rolled back) it makes the same marks. `ids` are the caller's to restore
    if no transaction of the batch commits."""

    def __init__(self, confirmations: Confirmations) -> None:
        self._confirmations = confirmations
        self.ids: list[str] = []

    def make(self, session: Session) -> None:
        if self.ids:
            mark_dispatched(session, self.ids)
        else:
            self.ids.extend(self._confirmations.mark_taken(session))


def mark_dispatched(session: Session, alert_ids: list[str]) -> None:
    """Record in `session`'s transaction that these alerts reached their incidents."""
    # Table-level: the ORM's bulk update would also sync the session, for nothing.
    alerts: Table = AlertRow.__table__  # type: ignore[assignment]
    session.connection().execute(
        update(alerts)
        .where(alerts.c.id.in_(alert_ids))
        .values(
            dispatched_at=datetime.now(UTC),
            dispatch_attempts=alerts.c.dispatch_attempts + 1,
            dispatch_error=None,
        )
    )


class GroupCommit(Generic[ItemT, ResultT]):
    """Writes alerts that arrive while a write is in flight together, in one transaction.

    Under a storm this turns thousands of small transactions (each a lock hand-off and a
    commit) into a few large ones; a lone alert is written at once, with no added delay.
    """

    MAX_BATCH = 200

    def __init__(self, write: Callable[[list[ItemT]], list[ResultT | Exception]]) -> None:
        self._write = write
        self._queue: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: ItemT) -> ResultT:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ResultT] = loop.create_future()
        self._queue.append((item, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._queue:
            batch = self._queue[: self.MAX_BATCH]
            del self._queue[: self.MAX_BATCH]
            try:
                results = await asyncio.to_thread(self._write, [item for item, _ in batch])
            except Exception as exc:  # the transaction itself failed: every sender hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)


class Coalescer(Generic[ItemT]):
    """Groups items by key for `window` seconds and hands each group to `deliver` at once.

    The first item of a key opens its window; every item of that key arriving before it
    closes joins the group. A storm of duplicates of a running incident then costs its
    workflow one signal per window instead of one per alert; the alerts are already stored,
    so a crash before delivery leaves them to the outbox, as any undelivered alert.
    """

    def __init__(
        self, window: float, deliver: Callable[[str, list[ItemT]], Awaitable[None]]
    ) -> None:
        self.window = window
        self._deliver = deliver
        self._open: dict[str, list[ItemT]] = {}
        # Windows still open, and every window's task (a closed one may still deliver).
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, key: str, item: ItemT) -> None:
        group = self._open.get(key)
        if group is not None:
            group.append(item)
            return
        self._open[key] = [item]
        task = asyncio.get_running_loop().create_task(self._later(key))
        self._timers[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _later(self, key: str) -> None:
        await asyncio.sleep(self.window)
        await self._send(key)

    async def _send(self, key: str) -> None:
        self._timers.pop(key, None)
        group = self._open.pop(key, None)
        if group:
            await self._deliver(key, group)

    async def close(self) -> None:
        """Deliver every open group now, and wait for deliveries under way."""
        for timer in list(self._timers.values()):
            timer.cancel()  # still sleeping: `_send` forgets its timer before it awaits
        for key in list(self._open):
            await self._send(key)
        await asyncio.gather(*self._tasks, return_exceptions=True)
