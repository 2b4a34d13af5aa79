"""Formats whose events come as a stream of JSON lines read in order (a garak report).

Such a format reads each line with a small state it carries from line to line (the run a
report's `init` line names applies to the `eval` lines after it), and may answer that a line
is understood but reports nothing (`NoFinding`): run metadata, an attempt, an eval where
every output passed. Those lines are acknowledged, not dead-lettered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard, runtime_checkable

from smokejumper.domain.alerts import Alert

# JSON-serialisable; a poller keeps it in its cursor, per file.
StreamState = dict[str, Any]


@dataclass(frozen=True)
class NoFinding:
    """A line the format understands that is not a finding."""

    entry_type: str
    reason: str


@runtime_checkable
class StreamReader(Protocol):
    name: str

    def read(self, payload: Any, state: StreamState) -> Alert | NoFinding:
        """One parsed line; may update `state` for the lines after it. Raises ValueError
        (with `errors` naming the fields) when the line is not in the format."""
        ...


def is_stream(normalizer: Any) -> TypeGuard[StreamReader]:
    return isinstance(normalizer, StreamReader)


def lines_of(body: bytes) -> list[tuple[int, bytes]]:
    """(line number from 1, line) for each non-blank line of a JSONL body."""
    found: list[tuple[int, bytes]] = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        stripped = line.rstrip(b"\r")
        if stripped.strip():
            found.append((number, stripped))
    return found
