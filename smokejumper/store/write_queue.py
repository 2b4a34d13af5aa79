"""The order in which one process's SQLite writers get the database's single write lock.

Containment writes (an action row claimed before a key is revoked, its outcome after) go
ahead of bookkeeping writes (timeline, audit, status). Under a flood every bookkeeping
write of thousands of low-severity runs queues for the one writer, a few milliseconds of
fsync each; a leaked key's revocation must not wait behind all of them. Among writers of
the same rank the first to ask is served first.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_URGENT: ContextVar[bool] = ContextVar("smokejumper_urgent_writes", default=False)


def as_urgent(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run `function`, its store writes going ahead of bookkeeping writes."""
    token = _URGENT.set(True)
    try:
        return function(*args, **kwargs)
    finally:
        _URGENT.reset(token)


def writing_urgently() -> bool:
    return _URGENT.get()


class WriteQueue:
    """A lock handed to its waiters urgent first, then in the order they asked."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiting: list[tuple[int, int, threading.Event]] = []
        self._arrivals = itertools.count()

    def acquire(self, urgent: bool) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            turn = threading.Event()
            heapq.heappush(self._waiting, (0 if urgent else 1, next(self._arrivals), turn))
        # release() hands the lock over by setting `turn`: it never becomes free meanwhile.
        turn.wait()

    def release(self) -> None:
        with self._mutex:
            if self._waiting:
                heapq.heappop(self._waiting)[2].set()
            else:
                self._held = False

    @contextmanager
    def held(self) -> Iterator[None]:
        self.acquire(writing_urgently())
        try:
            yield
        finally:
            self.release()
