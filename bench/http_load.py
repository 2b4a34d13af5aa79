"""A lean HTTP/1.1 load generator: keep-alive connections speaking just enough HTTP.

General-purpose clients spend milliseconds of CPU per request; on a two-core machine that
CPU is taken from the server under test, so the storm would measure the client. This one
writes a request and reads one response per call, nothing more.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    body: bytes
    seconds: float


class Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host = host
        self.port = port
        self.fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self.reader, self.writer

    async def post(self, path: str, body: bytes) -> Response:
        return await self._request("POST", path, body)

    async def get(self, path: str) -> Response:
        """`path` carries the query string, already encoded."""
        return await self._request("GET", path, b"")

    async def _request(self, method: str, path: str, body: bytes) -> Response:
        reader, writer = await self._open()
        started = time.perf_counter()
        length_header = f"Content-Length: {len(body)}\r\n" if body or method != "GET" else ""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.fixed}"
            f"{length_header}\r\n"
        )
        writer.write(head.encode("ascii") + body)
        await writer.drain()
        status_line = await reader.readline()
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        close = False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value.strip())
            elif lowered == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await reader.readexactly(length) if length else b""
        if close:
            writer.close()
            self.reader = self.writer = None
        return Response(status, payload, time.perf_counter() - started)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()
