"""Activities that keep the incident row and its timeline in step with the workflow."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smokejumper.contracts.bookkeeping import (
    RECORD_TIMELINE_EVENT,
    SET_INCIDENT_SEVERITY,
    SET_INCIDENT_STATUS,
)
from smokejumper.domain.incidents import (
    IncidentStatus,
    SeverityChange,
    StatusChange,
    TimelineEntry,
)
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident, TimelineEvent

_STATUS_TIMESTAMP = {
    IncidentStatus.ACKNOWLEDGED: "acknowledged_at",
    IncidentStatus.CONTAINED: "contained_at",
    IncidentStatus.RESOLVED: "resolved_at",
    IncidentStatus.CLOSED: "closed_at",
}


class IncidentActivities:
    """Bound to a store at worker start; each method is idempotent on its event key.

    `on_recorded` hears of every event after it is written (also on a retry, so a hook
    that failed gets another go): it is how the timeline reaches Slack.
    """

    def __init__(
        self,
        store: Store,
        on_recorded: Callable[[TimelineEntry], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.on_recorded = on_recorded

    async def _tell(self, entry: TimelineEntry) -> None:
        if self.on_recorded is not None:
            await self.on_recorded(entry)

    @RECORD_TIMELINE_EVENT.implementation
    async def record_timeline_event(self, entry: TimelineEntry) -> bool:
        """Write one timeline row; returns False when it was already written (a retry)."""
        written = await asyncio.to_thread(self._record, entry)
        await self._tell(entry)
        return written

    def _record(self, entry: TimelineEntry) -> bool:
        try:
            with self.store.transaction() as session:
                if session.scalar(
                    select(TimelineEvent.id).where(TimelineEvent.event_key == entry.event_key)
                ):
                    return False
                session.add(
                    TimelineEvent(
                        incident_id=entry.incident_id,
                        kind=entry.kind,
                        step=entry.step,
                        actor=entry.actor,
                        message=entry.message,
                        data=dict(entry.data),
                        event_key=entry.event_key,
                        **({"at": entry.at} if entry.at is not None else {}),
                    )
                )
        except IntegrityError:
            # A concurrent attempt of the same activity won the unique key.
            return False
        return True

    @SET_INCIDENT_STATUS.implementation
    async def set_incident_status(self, change: StatusChange) -> bool:
        """Move the incident to `status`, stamp its time, and record it on the timeline."""
        applied = await asyncio.to_thread(self._set_status, change)
        await self._tell(
            TimelineEntry(
                incident_id=change.incident_id,
                kind="incident.status",
                message=f"Status → {change.status.value}"
                + (f": {change.reason}" if change.reason else ""),
                actor=change.actor,
                data={"to": change.status.value},
                event_key=change.event_key,
            )
        )
        return applied

    def _set_status(self, change: StatusChange) -> bool:
        with self.store.transaction() as session:
            incident = _unapplied(session, change.incident_id, change.event_key)
            if incident is None:
                return False
            now = datetime.now(UTC)
            previous = incident.status
            if previous == IncidentStatus.CLOSED.value:
                # A playbook still containing when a responder closed the incident must not
                # reopen it (its fingerprint is already free for the next incident).
                return False
            incident.status = change.status.value
            incident.updated_at = now
            stamp = _STATUS_TIMESTAMP.get(change.status)
            if stamp is not None and getattr(incident, stamp) is None:
                setattr(incident, stamp, now)
            if change.status is IncidentStatus.CLOSED:
                # Frees the fingerprint: the next alert like this one opens a new incident.
                incident.open_key = None
            message = f"Status {previous} → {change.status.value}"
            if change.reason:
                message += f": {change.reason}"
            session.add(
                TimelineEvent(
                    incident_id=incident.id,
                    kind="incident.status",
                    actor=change.actor,
                    message=message,
                    data={"from": previous, "to": change.status.value},
                    event_key=change.event_key,
                )
            )
        return True

    @SET_INCIDENT_SEVERITY.implementation
    async def set_incident_severity(self, change: SeverityChange) -> bool:
        """Raise or lower the incident's severity, on the timeline."""
        applied = await asyncio.to_thread(self._set_severity, change)
        await self._tell(
            TimelineEntry(
                incident_id=change.incident_id,
                kind="incident.severity",
                message=f"Severity → {change.severity}"
                + (f": {change.reason}" if change.reason else ""),
                actor=change.actor,
                data={"to": change.severity},
                event_key=change.event_key,
            )
        )
        return applied

    def _set_severity(self, change: SeverityChange) -> bool:
        with self.store.transaction() as session:
            incident = _unapplied(session, change.incident_id, change.event_key)
            if incident is None:
                return False
            previous = incident.severity
            incident.severity = change.severity
            incident.updated_at = datetime.now(UTC)
            session.add(
                TimelineEvent(
                    incident_id=incident.id,
                    kind="incident.severity",
                    actor=change.actor,
                    message=f"Severity {previous} → {change.severity}"
                    + (f": {change.reason}" if change.reason else ""),
                    data={"from": previous, "to": change.severity},
                    event_key=change.event_key,
                )
            )
        return True


def _unapplied(session: Session, incident_id: int, event_key: str) -> Incident | None:
    """The incident, locked for the change; None when the change was already applied (a
    retried activity), recognised by its timeline event key."""
    if session.scalar(select(TimelineEvent.id).where(TimelineEvent.event_key == event_key)):
        return None
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None:
        raise ValueError(f"incident {incident_id} does not exist")
    return incident
