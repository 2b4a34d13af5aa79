"""A recording proxy in front of a real server: every request goes through to the server,
which does the real work, while tests count the calls a provider made and inject failures
(a 503 before the call, a lost answer after it) exactly as with an emulator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from tests.integrations.emulators.base import Answer, Emulator, Request


class RecordingProxy(Emulator):
    """Forwards JSON requests to `upstream` with the `forwarded` headers (the credential);
    errors it makes up itself are spelt as Vault spells them (`{"errors": [...]}`)."""

    def __init__(self, upstream: str, forwarded: Sequence[str]) -> None:
        super().__init__()
        self.forwarded = tuple(forwarded)
        self.upstream = httpx.Client(base_url=upstream, timeout=30)

    def error(self, status: int, message: str) -> Answer:
        return status, {"errors": [message]}

    def stop(self) -> None:
        super().stop()
        self.upstream.close()

    def _handle(self, request: Request, headers: Any) -> Answer:
        response = self.upstream.request(
            request.method,
            request.path,
            params=request.query,
            json=request.body,
            headers={name: headers[name] for name in self.forwarded if headers.get(name)},
        )
        return response.status_code, response.json() if response.content else None
