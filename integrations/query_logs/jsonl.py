"""Query logs in JSONL files on the worker's disk (a gateway's own log, or a shipper's
copy): a file or a glob, gzip read as such. Files last written before the window are
skipped: a log is appended to, so they hold nothing newer."""

from __future__ import annotations

import glob
import gzip
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from integrations.query_logs.base import GZIP_MAGIC, QueryLogError


class JsonlQueryLog:
    name = "jsonl"

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def lines(self, since: datetime) -> Iterator[bytes]:
        paths = sorted(Path(p) for p in glob.glob(self.pattern))
        if not paths:
            raise QueryLogError(f"no query log file matches {self.pattern}", retryable=False)
        for path in paths:
            try:
                if datetime.fromtimestamp(path.stat().st_mtime, UTC) < since:
                    continue
                yield from _read(path)
            except FileNotFoundError:
                continue  # rotated away between the glob and the read
            except PermissionError:
                raise QueryLogError(
                    f"cannot read {path}: permission denied", retryable=False
                ) from None
            except (OSError, EOFError) as exc:
                raise QueryLogError(f"cannot read {path}: {type(exc).__name__}") from None


def _read(path: Path) -> Iterator[bytes]:
    """Line by line, so a large log is never held whole."""
    with path.open("rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
    if compressed:
        with gzip.open(path, "rb") as unpacked:
            yield from _nonblank(unpacked)
    else:
        with path.open("rb") as plain:
            yield from _nonblank(plain)


def _nonblank(lines: Iterable[bytes]) -> Iterator[bytes]:
    for line in lines:
        if line.strip():
            yield line.strip()
