"""The controls listener: `GET /api/v1/controls/check` (and `/filter-rules`) on a port of
their own, `api.controls_port`, served by the `smokejumper api` process beside the API.

Why a second port: the API's port parses HTTP with h11, in pure Python, behind FastAPI's
telemetry and middleware — fine for operators and alert sources, ~100 µs of CPU a request
before any app code runs. Gateways ask the check before every LLM request. Here each
connection is an asyncio protocol over httptools (C, the parser uvicorn uses by default):
a request is answered as soon as it is complete, from the in-memory view, with one write
— no ASGI task, no scope, no middleware — because the check never waits on I/O. It
answers nothing but the controls paths (404).

HTTP/1.1 keep-alive and pipelining (answers in order), HTTP/1.0, `Connection: close`, a
request body (read and ignored) and a malformed request (400, then closed) are handled.
It keeps the API port's defences against cheap attacks (smokejumper.api.connections):
a deadline for each request, head and body (`api.header_timeout_seconds`, which is also
how long a kept-alive connection may idle), 64 KiB at most a request, and a connection cap
(`api.max_connections`) at which the oldest connection waiting on its client is dropped
for a new one. Reading stops while a client does not read its answers.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from email.utils import formatdate
from http import HTTPStatus
from typing import cast
from urllib.parse import unquote

import httptools

from smokejumper.api.controls import Arrivals, ControlPlaneView
from smokejumper.api.controls_asgi import PATHS, AcceptedTokens, Answer, ControlsAnswers

log = logging.getLogger("smokejumper.api.controls")

MAX_REQUEST_BYTES = 64 * 1024  # as the API port's h11_max_incomplete_event_size
BAD_REQUEST: Answer = (400, b'{"detail":"Invalid HTTP request"}', [])
NOT_FOUND: Answer = (404, b'{"detail":"Not Found"}', [])
_STATUS_LINES = {
    status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode() for status in HTTPStatus
}


class Listening:
    """What a listener's connections share: the answers, the limits, the Date header and
    the connections, those waiting on their client oldest first (a dict keeps order)."""

    def __init__(self, answers: ControlsAnswers, header_timeout: float, max_connections: int):
        self.answers = answers
        self.arrivals = answers.arrivals or Arrivals()
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.connections: set[ControlsConnection] = set()
        self.waiting: dict[ControlsConnection, None] = {}
        self.date = b""
        self.tick()

    def tick(self) -> None:
        self.date = b"date: " + formatdate(usegmt=True).encode() + b"\r\n"


class ControlsConnection(asyncio.Protocol):
    """One client connection; httptools calls its `on_*` methods as it parses."""

    transport: asyncio.Transport

    def __init__(self, shared: Listening) -> None:
        self.shared = shared
        self.parser = httptools.HttpRequestParser(self)
        self.loop = asyncio.get_running_loop()  # made by the loop's server, in the loop
        self.timer: asyncio.TimerHandle | None = None
        self.received = 0  # bytes of the request under way
        self.url = b""
        self.authorization: bytes | None = None
        self.method = ""

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream server's transport (uvloop's does not subclass asyncio.Transport).
        self.transport = cast(asyncio.Transport, transport)
        shared = self.shared
        if len(shared.connections) >= shared.max_connections:
            oldest = next(iter(shared.waiting), None)
            if oldest is None:
                # Every connection has a request under way: this one waits for none of them.
                self.transport.abort()
                return
            oldest.drop("evicted for a new connection at the connection cap")
        shared.connections.add(self)
        self.wait_for_request()

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.received > MAX_REQUEST_BYTES and self.timer is not None:
            self.drop("request larger than 64 KiB")
            return
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            if not self.transport.is_closing():
                self.write(BAD_REQUEST, keep_alive=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_waiting()
        self.shared.connections.discard(self)

    def pause_writing(self) -> None:
        # The client is not reading its answers: stop reading its requests meanwhile.
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.url = b""
        self.authorization = None

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.authorization is None and name.lower() == b"authorization":
            self.authorization = value.strip()

    def on_headers_complete(self) -> None:
        # Counted before the request is answered: checks share stats by it (Arrivals).
        self.shared.arrivals.count += 1
        self.method = self.parser.get_method().decode("ascii", "replace")

    def on_message_complete(self) -> None:
        if self.transport.is_closing():
            return  # a pipelined request after one that closed the connection
        self.stop_waiting()
        keep_alive = self.parser.should_keep_alive()
        url = httptools.parse_url(self.url)
        raw_path = url.path.decode("latin-1")
        path = unquote(raw_path) if "%" in raw_path else raw_path
        if path in PATHS:
            answer = self.shared.answers.respond(
                self.method, path, url.query or b"", self.authorization
            )
        else:
            answer = NOT_FOUND
        self.write(answer, keep_alive)
        if keep_alive:
            self.wait_for_request()

    # answers and deadlines

    def write(self, answer: Answer, keep_alive: bool) -> None:
        status, body, extra = answer
        head = [
            _STATUS_LINES[status],
            b"content-type: application/json\r\ncontent-length: ",
            str(len(body)).encode(),
            b"\r\n",
            self.shared.date,
            *(name + b": " + value + b"\r\n" for name, value in extra),
            b"\r\n" if keep_alive else b"connection: close\r\n\r\n",
        ]
        if self.method != "HEAD":
            head.append(body)
        self.transport.write(b"".join(head))
        if not keep_alive:
            self.transport.close()

    def wait_for_request(self) -> None:
        """The next request (or the first) must be in within the deadline."""
        self.received = 0
        self.shared.waiting[self] = None
        self.timer = self.loop.call_later(
            self.shared.header_timeout, self.drop, "no complete request in time"
        )

    def stop_waiting(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.shared.waiting.pop(self, None)

    def drop(self, why: str) -> None:
        self.stop_waiting()
        log.debug("controls connection dropped: %s", why)
        self.transport.abort()


class ControlsListener:
    """Serves the controls check from `view` on host:port in the running event loop, from
    `start` to `stop`."""

    def __init__(
        self,
        view: ControlPlaneView,
        tokens: AcceptedTokens,
        host: str,
        port: int,
        *,
        header_timeout: float,
        max_connections: int,
    ) -> None:
        self.host = host
        self.port = port
        self.answers = ControlsAnswers(view, tokens, Arrivals())
        self.shared = Listening(self.answers, header_timeout, max_connections)
        self._server: asyncio.Server | None = None
        self._clock: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        shared = self.shared
        try:
            self._server = await loop.create_server(
                lambda: ControlsConnection(shared), host=self.host, port=self.port
            )
        except OSError as exc:
            log.error("controls listener cannot listen on %s:%s: %s", self.host, self.port, exc)
            raise
        if self.port == 0:
            self.port = int(self._server.sockets[0].getsockname()[1])
        self.answers.view.load()
        # The API process holds ~300,000 objects once started, nearly all there for good; a
        # full garbage collection walks them all (~0.7 s on a loaded 2-core machine), and
        # every check waits for it. Frozen, they are left out of collections: what checks
        # allocate dies young, and a full collection walks only what came after.
        gc.freeze()
        self._tick()
        log.info("controls check listening on http://%s:%s", self.host, self.port)

    def _tick(self) -> None:
        # The Date header, once a second (as uvicorn keeps it).
        self.shared.tick()
        self._clock = asyncio.get_running_loop().call_later(1.0, self._tick)

    async def stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
        if self._server is None:
            return
        self._server.close()
        # Every request is answered when it is complete: what is left is waiting on its
        # client, or a request half sent, and has nothing to finish.
        for connection in list(self.shared.connections):
            connection.stop_waiting()
            connection.transport.close()
        await self._server.wait_closed()
        self._server = None
