"""Reading a query log: JSON lines from files or objects, the records of one principal in
one window. A source yields raw lines with where they came from; selection is shared, so
every source reads a record the same way.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

GZIP_MAGIC = b"\x1f\x8b"
# Epoch numbers above this are milliseconds (year 2286 in seconds).
_MILLIS = 10_000_000_000


class QueryLogError(Exception):
    """Reading the log failed. `retryable` is False when retrying cannot help (no such
    bucket, access denied); the message never quotes a record."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class QueryLogSource(Protocol):
    name: str

    def lines(self, since: datetime) -> Iterator[bytes]:
        """Every line of every file or object that may hold records from `since` on."""
        ...


@dataclass
class Selection:
    """The principal's records in the window, as the log wrote them."""

    records: list[bytes] = field(default_factory=list)
    scanned: int = 0
    matched: int = 0
    unreadable: int = 0


def split_lines(data: bytes) -> Iterator[bytes]:
    if data[:2] == GZIP_MAGIC:
        data = gzip.decompress(data)
    for line in data.splitlines():
        if line.strip():
            yield line.strip()


def field_of(record: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(part)
    return record


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > _MILLIS else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def select(
    lines: Iterable[bytes],
    *,
    start: datetime,
    end: datetime,
    timestamp_field: str,
    principal_field: str,
    principal: str,
    limit: int,
) -> Selection:
    chosen = Selection()
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            chosen.unreadable += 1
            continue
        at = parse_time(field_of(record, timestamp_field))
        if at is None:
            chosen.unreadable += 1
            continue
        if not start <= at <= end:
            continue
        chosen.scanned += 1
        if str(field_of(record, principal_field)) != principal:
            continue
        chosen.matched += 1
        if len(chosen.records) < limit:
            chosen.records.append(line)
    return chosen
