"""What every mirror gets and gives: the incident as it may leave us (masked), one
timeline entry, the incident's reference in the tool, and two kinds of failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from smokejumper.domain.alerts import Severity

# Statuses after which a page or an alert is over.
FINISHED = frozenset({"resolved", "closed", "merged"})
# Statuses after which nothing more is mirrored (the relay ends).
OVER = frozenset({"closed", "merged"})
# Statuses that mean someone is on it.
WORKED_ON = frozenset({"acknowledged", "contained", "partly_contained"})


class MirrorRefused(Exception):
    """The tool refused this entry (HTTP 4xx other than a throttle): retrying would not
    help. The message names the tool, the operation and the status, never a body."""


class MirrorUnavailable(Exception):
    """The tool is down, slow or throttling: retried with backoff (after `retry_after`
    seconds when the tool said so)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class IncidentFacts:
    """The incident as it is now, every free text masked (smokejumper.masking)."""

    incident_id: int
    ref: str
    title: str
    kind: str
    severity: str
    status: str
    url: str
    opened_at: datetime


@dataclass(frozen=True)
class MirrorEvent:
    """One timeline entry, masked."""

    kind: str
    message: str
    actor: str
    event_key: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExternalRef:
    external_id: str
    url: str | None = None


class Refs(Protocol):
    """Where the incident lives in the tool, kept in `incident_external_refs`."""

    def get(self) -> ExternalRef | None: ...

    def keep(self, ref: ExternalRef) -> None: ...


class Mirror(Protocol):
    system: str

    async def deliver(self, incident: IncidentFacts, event: MirrorEvent, refs: Refs) -> str | None:
        """Carry one entry to the tool; returns the id of what it made (a comment), if any."""
        ...

    async def aclose(self) -> None: ...


def at_least(severity: str, minimum: str) -> bool:
    try:
        return Severity(severity).rank >= Severity(minimum).rank
    except ValueError:
        return False
