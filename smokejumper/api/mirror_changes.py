"""Changes another tool reports about one of our incidents (an acknowledgement in
PagerDuty, a transition or a comment in Jira), applied to the incident: on its timeline
with `via` the tool's name (so the mirror of that tool does not send it back), and in the
audit log.

A tool may acknowledge an open incident and resolve one that is not over; closing ends
the playbook and stays with responders. A change the incident already has (often our own
change, echoed back by the tool) changes nothing: the second half of the loop guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import aliased

from smokejumper.domain.incidents import IncidentStatus
from smokejumper.incidents import case_work
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident, IncidentExternalRef, TimelineEvent

_STAMP = {"acknowledged": "acknowledged_at", "resolved": "resolved_at"}
# The statuses from which each inbound status applies.
_FROM = {
    "acknowledged": frozenset({IncidentStatus.OPEN.value}),
    "resolved": frozenset(
        {
            IncidentStatus.OPEN.value,
            IncidentStatus.ACKNOWLEDGED.value,
            IncidentStatus.CONTAINED.value,
            IncidentStatus.PARTLY_CONTAINED.value,
        }
    ),
}


@dataclass(frozen=True)
class Outcome:
    incident: str | None
    applied: bool
    detail: str


def incident_of(store: Store, system: str, ref: str | None, external_id: str | None) -> str | None:
    """Our incident's ref, from the ref the tool carries back (a dedup key, an alias) or
    from the tool's own id kept in `incident_external_refs`."""
    with store.session() as session:
        if ref:
            found = session.scalar(select(Incident.ref).where(Incident.ref == ref.upper()))
            if found:
                return found
        if external_id:
            return session.scalar(
                select(Incident.ref)
                .join(IncidentExternalRef, IncidentExternalRef.incident_id == Incident.id)
                .where(
                    IncidentExternalRef.system == system,
                    IncidentExternalRef.external_id == external_id,
                )
            )
    return None


def set_status(
    store: Store, ref: str, status: str, *, actor: str, via: str, event_key: str
) -> Outcome:
    allowed = _FROM.get(status)
    if allowed is None:
        return Outcome(ref, False, f"status {status!r} is not set from {via}")
    with store.transaction() as session:
        if session.scalar(select(TimelineEvent.id).where(TimelineEvent.event_key == event_key)):
            return Outcome(ref, False, "already applied")
        incident = session.scalars(
            select(Incident).where(Incident.ref == ref).with_for_update()
        ).first()
        if incident is None:
            return Outcome(None, False, "no such incident")
        previous = incident.status
        if previous not in allowed:
            return Outcome(ref, False, f"incident is {previous}: nothing to change")
        now = datetime.now(UTC)
        incident.status = status
        incident.updated_at = now
        stamp = _STAMP[status]
        if getattr(incident, stamp) is None:
            setattr(incident, stamp, now)
        data: dict[str, object] = {"from": previous, "to": status, "via": via}
        session.add(
            TimelineEvent(
                incident_id=incident.id,
                kind="incident.status",
                actor=actor,
                message=f"Status {previous} → {status} via {via}",
                data=data,
                event_key=event_key,
            )
        )
        audit.append(
            session,
            actor=actor,
            action="incident.status",
            subject=ref,
            data=data,
            entry_key=f"mirror:{event_key}",
        )
    return Outcome(ref, True, f"status {previous} → {status}")


def add_note(
    store: Store, ref: str, text: str, *, author: str, via: case_work.Via, key: str
) -> Outcome:
    """A comment made in the tool, as a note (once per `key`). A merged incident's notes
    were moved to the incident it was merged into, and so is a comment made after."""
    ref = _surviving(store, ref)
    note = case_work.add_note(store, ref, text, author=author, via=via, source_key=key)
    return Outcome(ref, note is not None, "note added" if note is not None else "already added")


def _surviving(store: Store, ref: str) -> str:
    target = aliased(Incident)
    with store.session() as session:
        found = session.scalar(
            select(target.ref)
            .join(Incident, Incident.merged_into_id == target.id)
            .where(Incident.ref == ref)
        )
    return found or ref
