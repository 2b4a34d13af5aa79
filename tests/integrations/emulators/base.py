"""The emulator machinery: a threaded HTTP server, routing, auth, recording and injected
failures. Each emulator subclasses `Emulator` and declares its routes."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, Any]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    match: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Failure:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    after: bool


class Emulator:
    """Subclasses fill `routes` with (method, path regex, handler) and say how a request
    authenticates (`authorised`)."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Callable[[Request], Answer]]] = []
        self.requests: list[Request] = []
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- what tests use -------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "emulator not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def calls(self, method: str, path: str) -> int:
        """How many `method` requests for exactly `path` were received (failed ones too)."""
        with self._lock:
            return sum(1 for r in self.requests if r.method == method and r.path == path)

    def fail(
        self, method: str, path: str, status: int, times: int = 1, *, after: bool = False
    ) -> None:
        """Answer the next `times` requests matching `method` and the `path` regex with
        `status`: before doing anything, or (`after`) once the request took effect, as when
        a gateway loses the answer of a call that went through."""
        with self._lock:
            self._failures.append(Failure(method, re.compile(path), status, times, after))

    @contextmanager
    def running(self) -> Iterator[Emulator]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def start(self) -> None:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                emulator._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # Quiet: tests read `requests` instead.

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll: `stop` waits up to one interval for the serving loop to notice.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- what subclasses provide ----------------------------------------------------------

    def route(self, method: str, path: str, handler: Callable[[Request], Answer]) -> None:
        self.routes.append((method, re.compile(f"^{path}$"), handler))

    def authorised(self, headers: Any) -> bool:
        raise NotImplementedError

    def error(self, status: int, message: str) -> Answer:
        return status, {"error": {"message": message}}

    # -- serving --------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        headers = {name.lower(): value for name, value in handler.headers.items()}
        request = Request(handler.command, parts.path, query, body, headers=headers)
        with self._lock:
            self.requests.append(request)
            status, answer = self._answer(request, handler.headers)
        payload = b"" if answer is None else json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _answer(self, request: Request, headers: Any) -> Answer:
        failure = self._injected(request)
        if failure is not None and not failure.after:
            return self.error(failure.status, "injected failure")
        answer = self._handle(request, headers)
        if failure is not None:
            return self.error(failure.status, "injected failure")
        return answer

    def _injected(self, request: Request) -> Failure | None:
        for failure in self._failures:
            if failure.times and failure.method == request.method:
                if failure.path.search(request.path):
                    failure.times -= 1
                    return failure
        return None

    def _handle(self, request: Request, headers: Any) -> Answer:
        if not self.authorised(headers):
            return self.error(401, "invalid credential")
        for method, pattern, handle in self.routes:
            found = pattern.match(request.path)
            if found and method == request.method:
                request.match = found.groupdict()
                return handle(request)
        return self.error(404, f"no route {request.method} {request.path}")
