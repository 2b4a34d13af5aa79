"""One JSON-over-HTTP admin API (OpenAI Admin, LiteLLM proxy, Vault), with its failures
classified the way containment needs them.

Messages are built from the provider's name, the operation and the HTTP status only: never
from the request's headers (they carry the admin credential) or the response body (a proxy
can echo the key it was asked about).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

# Statuses a retry can fix: throttling and the server's own trouble.
_RETRYABLE = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class ErrorKinds:
    """How a provider family spells its errors: a base error taking `retryable`, and a
    not-found error (always final)."""

    error: Callable[..., Exception]
    not_found: Callable[[str], Exception]


class HttpApi:
    """A thread-safe httpx client bound to one base URL and credential header."""

    def __init__(
        self,
        name: str,
        base_url: str,
        headers: Mapping[str, str],
        timeout_seconds: float,
        errors: ErrorKinds,
    ) -> None:
        self.name = name
        self.errors = errors
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=dict(headers),
            timeout=timeout_seconds,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        missing: Callable[[httpx.Response], bool] | None = None,
    ) -> httpx.Response:
        """Send one request; return the response if it succeeded, raise a classified error
        otherwise. `what` names the operation and target for the message. `missing` tells a
        not-found answer apart where the API does not say 404 (Vault answers 400)."""
        try:
            response = self._client.request(method, path, json=json, params=params)
        except httpx.TimeoutException:
            raise self.errors.error(f"{self.name} {what}: timed out") from None
        except httpx.TransportError as exc:
            raise self.errors.error(
                f"{self.name} {what}: cannot reach the API ({type(exc).__name__})"
            ) from None
        status = response.status_code
        if status < 300:
            return response
        if status == 404 or (missing is not None and missing(response)):
            raise self.errors.not_found(f"{self.name} {what}: not found (HTTP {status})")
        if status in (401, 403):
            raise self.errors.error(
                f"{self.name} {what}: the configured credential was refused (HTTP {status})",
                retryable=False,
            )
        if status >= 500 or status in _RETRYABLE:
            raise self.errors.error(f"{self.name} {what}: HTTP {status}")
        raise self.errors.error(f"{self.name} {what}: rejected (HTTP {status})", retryable=False)

    def json(self, method: str, path: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        """`request`, returning the JSON object the API answered."""
        response = self.request(method, path, what=what, **kwargs)
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            raise self.errors.error(f"{self.name} {what}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise self.errors.error(f"{self.name} {what}: the answer is not a JSON object")
        return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
