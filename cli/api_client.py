"""The CLI talks to a running engine through its HTTP API."""

from __future__ import annotations

from typing import Any

import httpx

from cli.output import fail
from smokejumper.config import Settings
from smokejumper.security.operator import OperatorTokenMissing, operator_token

EXIT_UNREACHABLE = 3


class ApiClient:
    def __init__(self, settings: Settings) -> None:
        self.base = settings.api_url
        try:
            self.token = operator_token(settings)
        except OperatorTokenMissing as exc:
            raise fail(str(exc), 2) from None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        try:
            return httpx.request(
                method, f"{self.base}{path}", timeout=30, headers=headers, **kwargs
            )
        except httpx.TransportError as exc:
            raise fail(
                f"cannot reach the smokejumper API at {self.base} ({type(exc).__name__}); "
                "is `smokejumper up` (or `smokejumper api`) running?",
                EXIT_UNREACHABLE,
            ) from None
