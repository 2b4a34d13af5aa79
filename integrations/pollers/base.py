"""What a poller produces and how the runner drives it."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from integrations.sources.base import Normalizer
from smokejumper.domain.alerts import Alert

Cursor = dict[str, Any]


@dataclass(frozen=True)
class Item:
    """One native event; once it is handled the poller's cursor becomes `cursor`."""

    raw: str
    cursor: Cursor
    # The parsed event, or None when `raw` is still to be parsed as JSON by the runner.
    payload: Any = None
    parsed: bool = False
    # Where the event came from (file and offset); kept with a dead letter, never secret.
    context: Mapping[str, str] = field(default_factory=dict)
    # Set when the poller already knows the event is unusable (e.g. too large): the reason
    # it is dead-lettered with, without being parsed.
    problem: str | None = None
    # The fields at fault when `problem` is set (default: the whole body).
    errors: list[dict[str, str]] | None = None
    # Set when the poller already normalized the event (a stream format read in order).
    alert: Alert | None = None


@dataclass(frozen=True)
class Checkpoint:
    """Progress that produced no event (blank lines, a rotated file, an empty page)."""

    cursor: Cursor


Record = Item | Checkpoint


@dataclass(frozen=True)
class RunCounts:
    accepted: int = 0
    dead_lettered: int = 0

    def __bool__(self) -> bool:
        return bool(self.accepted or self.dead_lettered)


class Poller(Protocol):
    #: Unique; keys the cursor in `poller_cursors`.
    name: str
    #: The source name alerts and dead letters carry.
    source: str
    normalizer: Normalizer
    interval_seconds: float

    def poll(self, cursor: Cursor) -> AsyncGenerator[Record, None]:
        """Records after `cursor`, in order; the runner commits each before asking for more."""
        ...
