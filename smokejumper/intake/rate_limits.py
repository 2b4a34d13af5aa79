"""Per-source rate limits for intake: a token bucket per source (the operator has its own),
kept in this process. Over the limit, a sender is answered 429 with `Retry-After` and
nothing is stored: a well-behaved sender retries, a flood costs one bucket check each.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimits:
    """`limit_of(source)` gives (alerts per second, burst) for a source (None: the
    operator); 0 per second: no limit."""

    def __init__(
        self,
        limit_of: Callable[[str | None], tuple[float, int]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit_of = limit_of
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, source: str | None) -> float | None:
        """Spend one token of the source's bucket: None when allowed, else the seconds to
        wait before one is there."""
        rate, burst = self.limit_of(source)
        if rate <= 0:
            return None
        now = self.clock()
        key = source or ""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(burst), now)
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / rate


def retry_after(seconds: float) -> str:
    """A `Retry-After` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
