"""One process's SQLite writers take the write lock containment first, then in the order
they asked: a revocation's action row is not written behind a flood's timeline entries."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from activities.actions import on_containment_thread
from smokejumper.store.db import Store
from smokejumper.store.write_queue import WriteQueue, as_urgent, writing_urgently


def _until(check: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.001)


def _waiting(queue: WriteQueue) -> int:
    return len(queue._waiting)


def test_urgent_writers_go_first_then_the_rest_in_the_order_they_asked() -> None:
    queue = WriteQueue()
    served: list[str] = []

    def writer(name: str) -> None:
        with queue.held():
            served.append(name)

    queue.acquire(urgent=False)
    threads: list[threading.Thread] = []
    for name, urgent in [("book-1", False), ("book-2", False), ("revoke", True), ("book-3", False)]:
        target = (lambda n=name: as_urgent(writer, n)) if urgent else (lambda n=name: writer(n))
        thread = threading.Thread(target=target)
        thread.start()
        threads.append(thread)
        _until(lambda: _waiting(queue) == len(threads))
    queue.release()
    for thread in threads:
        thread.join(5)
    assert served == ["revoke", "book-1", "book-2", "book-3"]
    # Free again once the last has gone.
    assert _acquired_soon(queue)
    queue.release()


def _acquired_soon(queue: WriteQueue) -> bool:
    acquired = threading.Event()
    threading.Thread(target=lambda: (queue.acquire(False), acquired.set()), daemon=True).start()
    return acquired.wait(5)


def test_urgency_is_the_callers_alone() -> None:
    assert not writing_urgently()
    assert as_urgent(writing_urgently)
    assert not writing_urgently()


def test_a_failed_write_hands_the_lock_on() -> None:
    queue = WriteQueue()
    with contextlib.suppress(RuntimeError), queue.held():
        raise RuntimeError("the transaction failed")
    assert _acquired_soon(queue)
    queue.release()


def test_the_store_commits_a_containment_write_ahead_of_queued_bookkeeping(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'queue.db'}")
    try:
        with store.transaction() as session:
            session.execute(text("CREATE TABLE written (name TEXT)"))
        queue = store._writes
        assert queue is not None
        holding = threading.Event()
        go = threading.Event()

        def slow_bookkeeping() -> None:
            with store.transaction() as session:
                session.execute(text("INSERT INTO written VALUES ('first')"))
                holding.set()
                go.wait(5)

        def write(name: str) -> None:
            with store.transaction() as session:
                session.execute(text("INSERT INTO written VALUES (:name)"), {"name": name})

        threads = [threading.Thread(target=slow_bookkeeping)]
        threads[0].start()
        assert holding.wait(5)
        for name, urgent in [("timeline", False), ("audit", False), ("action row", True)]:
            target = (lambda n=name: as_urgent(write, n)) if urgent else (lambda n=name: write(n))
            threads.append(threading.Thread(target=target))
            threads[-1].start()
            _until(lambda: _waiting(queue) == len(threads) - 1)
        go.set()
        for thread in threads:
            thread.join(5)
        with store.session() as session:
            order = list(session.scalars(text("SELECT name FROM written ORDER BY rowid")))
        assert order == ["first", "action row", "timeline", "audit"]
    finally:
        store.dispose()


async def test_containment_threads_write_urgently() -> None:
    """Every provider call of a containment activity runs on a containment thread: its
    action row's writes are the urgent ones."""
    assert await on_containment_thread(writing_urgently)
    assert not writing_urgently()
