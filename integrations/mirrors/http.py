"""One HTTP call to a tool, its failures sorted into retry (outage, throttle) or refusal.

Errors never carry a response body: a tool can echo what it was sent, and what we send
holds incident details.
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from integrations.mirrors.base import MirrorRefused, MirrorUnavailable

_RETRIED = frozenset({408, 409, 425, 429})


async def call(
    client: httpx.AsyncClient, method: str, url: str, *, system: str, operation: str, **kw: Any
) -> httpx.Response:
    try:
        response = await client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        raise MirrorUnavailable(f"{system} {operation}: {type(exc).__name__}") from None
    status = response.status_code
    if status in _RETRIED or status >= 500:
        raise MirrorUnavailable(
            f"{system} {operation}: HTTP {status}", retry_after=_retry_after(response)
        )
    if status >= 400:
        raise MirrorRefused(f"{system} {operation}: HTTP {status}")
    return response


# The longest wait a tool's Retry-After may impose on its mirror: a bigger (or infinite)
# value is a broken proxy, not a throttle, and would stall the relay for good.
RETRY_AFTER_AT_MOST = 3600.0


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_AT_MOST)
