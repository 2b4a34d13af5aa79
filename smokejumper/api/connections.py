"""The HTTP connection guard: what uvicorn's h11 protocol lacks against cheap attacks.

- **A deadline for the request head.** A client that has not sent a whole request line and
  headers within `api.header_timeout_seconds` is disconnected (uvicorn has no such timer: a
  trickle of one header byte a second holds a connection for ever).
- **A connection cap that does not lock everyone out.** At `api.max_connections`, a new
  connection evicts the oldest one still sending its first request head — a slow client
  with nothing in flight — else the oldest kept-alive connection idle between requests,
  instead of being refused; only when every connection is busy with a request is the new
  one refused. So thousands of trickling connections cannot make
  `/healthz` or intake unreachable, and the process holds a bounded number of sockets.

The body's deadline (`api.body_timeout_seconds`) is the app's: intake reads it under a
timeout once the sender is authenticated (see smokejumper.api.alerts).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("smokejumper.api")


class GuardedH11Protocol(H11Protocol):
    """One connection. Subclassed per server by `guarded_protocol` (its limits and the
    connections still sending their head live on the subclass)."""

    header_timeout: ClassVar[float] = 10.0
    max_connections: ClassVar[int] = 2048
    # Connections still sending their first request head, and kept-alive ones idle between
    # requests, oldest first (a dict keeps order): the first are evicted first.
    awaiting_head: ClassVar[dict[GuardedH11Protocol, None]]
    idle: ClassVar[dict[GuardedH11Protocol, None]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused = False
        self._head_timer: asyncio.TimerHandle | None = None
        # The request cycle before the head being awaited (None, or the previous request's
        # on a kept-alive connection): a different one means the head arrived.
        self._cycle_before: object | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            oldest = next(iter(self.awaiting_head), None) or next(iter(self.idle), None)
            if oldest is None:
                # Every connection has a request in flight: this one waits for none of them.
                self._refused = True
                transport.abort()
                return
            oldest._drop("evicted for a new connection at the connection cap")
        super().connection_made(transport)
        self._await_head()

    def _await_head(self) -> None:
        self._cycle_before = self.cycle
        (self.awaiting_head if self.cycle is None else self.idle)[self] = None
        self._head_timer = self.loop.call_later(
            self.header_timeout, self._drop, "no complete request head in time"
        )

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_timer is not None and self.cycle is not self._cycle_before:
            self._head_done()

    def _head_done(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self.awaiting_head.pop(self, None)
        self.idle.pop(self, None)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Keep-alive: the next request's head gets the same deadline as the first's (unless
        # a pipelined one has already arrived).
        idle = self.cycle is None or self.cycle.response_complete
        if not self.transport.is_closing() and self._head_timer is None and idle:
            self._await_head()

    def _drop(self, why: str) -> None:
        if self not in self.awaiting_head and self not in self.idle:
            return  # its head arrived meanwhile
        self._head_done()
        log.debug("connection from %s dropped: %s", self.client, why)
        self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_done()
        if self._refused:
            return
        super().connection_lost(exc)


def guarded_protocol(header_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """A protocol class for one server, with these limits."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {
            "header_timeout": header_timeout,
            "max_connections": max_connections,
            "awaiting_head": {},
            "idle": {},
        },
    )
