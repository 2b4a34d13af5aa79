"""The CLI talks to a running engine through its HTTP API."""

from __future__ import annotations

from typing import Any

import httpx

from smokejumper.cli.output import fail
from smokejumper.config import Settings

EXIT_UNREACHABLE = 3


class ApiClient:
    def __init__(self, settings: Settings) -> None:
        self.base = settings.api_url
        self.operator = settings.operator

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return httpx.request(method, f"{self.base}{path}", timeout=30, **kwargs)
        except httpx.TransportError as exc:
            raise fail(
                f"cannot reach the smokejumper API at {self.base} ({type(exc).__name__}); "
                "is `smokejumper up` (or `smokejumper api`) running?",
                EXIT_UNREACHABLE,
            ) from None
