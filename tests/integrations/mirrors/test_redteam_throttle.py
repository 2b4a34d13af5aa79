"""A tool (or a proxy in front of it) that throttles with an absurd Retry-After: the mirror
waits a bounded time, never years or forever."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from integrations.mirrors.base import MirrorUnavailable
from integrations.mirrors.http import RETRY_AFTER_AT_MOST, call


@pytest.fixture
def throttling() -> Iterator[tuple[str, list[str]]]:
    """A server answering 429 with the Retry-After value queued for it."""
    values: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(429)
            self.send_header("retry-after", values.pop(0))
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}", values
    server.shutdown()
    server.server_close()


async def test_a_retry_after_past_an_hour_or_not_finite_is_bounded(
    throttling: tuple[str, list[str]],
) -> None:
    url, values = throttling
    expected = {
        "30": 30.0,
        "-5": 0.0,
        "999999999": RETRY_AFTER_AT_MOST,
        "1e400": None,
        "inf": None,
        "nan": None,
        "Wed, 21 Oct 2026 07:28:00 GMT": None,
    }
    async with httpx.AsyncClient(base_url=url) as client:
        for value, wait in expected.items():
            values.append(value)
            with pytest.raises(MirrorUnavailable, match="HTTP 429") as raised:
                await call(client, "POST", "/x", system="tool", operation="send")
            assert raised.value.retry_after == wait, value
