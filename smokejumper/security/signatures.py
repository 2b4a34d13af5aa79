"""HMAC-SHA256 request signatures with a timestamp window and replay memory.

A sender signs `<timestamp>.<body>` with the source's signing secret and sends
`X-Smokejumper-Timestamp: <unix seconds>` and `X-Smokejumper-Signature: sha256=<hex>`.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict

TIMESTAMP_HEADER = "x-smokejumper-timestamp"
SIGNATURE_HEADER = "x-smokejumper-signature"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(
        secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256
    ).hexdigest()
    return f"sha256={digest}"


def signature_matches(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def timestamp_fresh(timestamp: str, window_seconds: int, now: float | None = None) -> bool:
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    return abs(current - sent) <= window_seconds


class ReplayGuard:
    """Remembers signatures seen inside the window, so a captured request is used once.

    Per process: with several API replicas a replay can land once per replica, which the
    fingerprint dedup then folds into the same incident.
    """

    def __init__(self, window_seconds: int, capacity: int = 100_000) -> None:
        self.window = window_seconds
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, signature: str, now: float | None = None) -> bool:
        current = time.time() if now is None else now
        with self._lock:
            while self._seen:
                oldest, seen_at = next(iter(self._seen.items()))
                if current - seen_at <= 2 * self.window and len(self._seen) < self.capacity:
                    break
                del self._seen[oldest]
            if signature in self._seen:
                return False
            self._seen[signature] = current
            return True
