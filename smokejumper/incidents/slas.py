"""Service levels per severity: time to acknowledge and time to contain.

Each target runs from the incident's opening (`[slas.<severity>]` in minutes). Acknowledging
(or anything later: contained, resolved, closed) meets the first; containing (or resolving,
or closing) the second. The scheduler's leader checks every open incident on a short
interval: a reminder (`sla.reminded`) before a target, and a breach (`sla.breached`, with
whom to tell) at it, each written once (its event key), like a regulatory clock's. SLAs run
in the scheduler, not in the playbook, because acknowledging happens outside the playbook
(Slack, the console, the CLI) and every incident has them, whatever its playbook; a
changed target applies to running incidents without touching workflow histories.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from smokejumper.domain.alerts import Severity
from smokejumper.domain.incidents import IncidentStatus, TimelineEntry
from smokejumper.incidents.service import find_incident
from smokejumper.settings.slas import SlaPolicy
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.leases import Fence
from smokejumper.store.tables import Incident, TimelineEvent, utcnow

Policies = Mapping[Severity, SlaPolicy]
# Incidents that no longer run against a target.
_OVER = (IncidentStatus.CLOSED.value, "merged")


class SlaKind(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    CONTAIN = "contain"


class SlaView(BaseModel):
    kind: SlaKind
    severity: str
    target_minutes: int
    deadline: datetime
    met_at: datetime | None
    state: Literal["running", "met", "met_late", "breached"]


class AcknowledgeRefused(ValueError):
    """The incident is past `open` already."""


class IncidentMissing(LookupError):
    pass


def _minutes(policy: SlaPolicy, kind: SlaKind) -> int | None:
    return policy.acknowledge_minutes if kind is SlaKind.ACKNOWLEDGE else policy.contain_minutes


def _met_at(incident: Incident, kind: SlaKind) -> datetime | None:
    stamps = [incident.contained_at, incident.resolved_at, incident.closed_at]
    if kind is SlaKind.ACKNOWLEDGE:
        stamps.append(incident.acknowledged_at)
    present = [stamp for stamp in stamps if stamp is not None]
    return min(present) if present else None


def slas_of(incident: Incident, policies: Policies, now: datetime) -> list[SlaView]:
    """The incident's targets as they stand at `now` (none when its severity has none)."""
    try:
        policy = policies.get(Severity(incident.severity))
    except ValueError:
        return []
    if policy is None:
        return []
    views: list[SlaView] = []
    for kind in SlaKind:
        minutes = _minutes(policy, kind)
        if minutes is None:
            continue
        deadline = incident.opened_at + timedelta(minutes=minutes)
        met = _met_at(incident, kind)
        if met is not None:
            state: Literal["running", "met", "met_late", "breached"] = (
                "met" if met <= deadline else "met_late"
            )
        else:
            state = "breached" if now >= deadline else "running"
        views.append(
            SlaView(
                kind=kind,
                severity=incident.severity,
                target_minutes=minutes,
                deadline=deadline,
                met_at=met,
                state=state,
            )
        )
    return views


def incident_slas(store: Store, ident: str, policies: Policies) -> list[SlaView]:
    """The incident's targets now; raises IncidentMissing."""
    return slas_of_ref(store, ident, policies, utcnow())


def slas_of_ref(store: Store, ident: str, policies: Policies, now: datetime) -> list[SlaView]:
    with store.session() as session:
        incident = find_incident(session, ident)
        if incident is None:
            raise IncidentMissing(f"no incident {ident!r}")
        return slas_of(incident, policies, now)


def acknowledge(store: Store, ident: str, *, by: str, via: str) -> tuple[str, datetime]:
    """Move an open incident to acknowledged (meeting its acknowledge target); returns its
    reference and when. Raises IncidentMissing or AcknowledgeRefused."""
    now = utcnow()
    with store.transaction() as session:
        incident = find_incident(session, ident)
        if incident is None:
            raise IncidentMissing(f"no incident {ident!r}")
        # Two acknowledgements at once: the second waits here and sees the first's status.
        session.refresh(incident, with_for_update=True)
        ref = incident.ref or str(incident.id)
        if incident.status != IncidentStatus.OPEN.value:
            raise AcknowledgeRefused(f"{ref} is already {incident.status}")
        incident.status = IncidentStatus.ACKNOWLEDGED.value
        incident.acknowledged_at = now
        incident.updated_at = now
        session.add(
            TimelineEvent(
                incident_id=incident.id,
                kind="incident.status",
                actor=by,
                message=f"Status open → acknowledged by {by} via {via}",
                data={"from": "open", "to": "acknowledged", "via": via},
                event_key=f"{incident.id}:acknowledged",
            )
        )
        audit.append(
            session, actor=by, action="incident.acknowledged", subject=ref, data={"via": via}
        )
    return ref, now


def _written(session: Session, key: str) -> bool:
    return (
        session.scalar(select(TimelineEvent.id).where(TimelineEvent.event_key == key)) is not None
    )


def check_slas(
    store: Store, policies: Policies, now: datetime, *, fence: Fence | None = None
) -> list[TimelineEntry]:
    """Remind before, and record breaches of, the targets of incidents still open; each
    once. Returns what was written (for Slack)."""
    if not policies:
        return []
    written: list[TimelineEntry] = []
    with store.transaction() as session:
        if fence is not None:
            fence.check(session)
        incidents = session.scalars(
            select(Incident).where(
                Incident.status.not_in(_OVER),
                Incident.severity.in_([severity.value for severity in policies]),
            )
        ).all()
        for incident in incidents:
            policy = policies[Severity(incident.severity)]
            for view in slas_of(incident, policies, now):
                if view.met_at is not None:
                    continue
                entry = _due_event(incident, policy, view, now)
                if entry is None or _written(session, entry.event_key):
                    continue
                session.add(
                    TimelineEvent(
                        incident_id=entry.incident_id,
                        kind=entry.kind,
                        actor=entry.actor,
                        message=entry.message,
                        data=dict(entry.data),
                        event_key=entry.event_key,
                        at=now,
                    )
                )
                written.append(entry)
    return written


def _due_event(
    incident: Incident, policy: SlaPolicy, view: SlaView, now: datetime
) -> TimelineEntry | None:
    target = f"{view.kind.value} within {view.target_minutes} min ({incident.severity})"
    data: dict[str, str | int | float | bool | None] = {
        "sla": view.kind.value,
        "severity": incident.severity,
        "deadline": view.deadline.isoformat(),
    }
    if now >= view.deadline:
        who = ", ".join(policy.escalate_to)
        return TimelineEntry(
            incident_id=incident.id,
            kind="sla.breached",
            message=f"SLA breached: {target}, deadline {view.deadline.isoformat()}"
            + (f"; escalating to {who}" if who else ""),
            actor="sla",
            data={**data, "escalate_to": who},
            event_key=f"{incident.id}:sla.breached:{view.kind.value}",
        )
    remind = timedelta(minutes=policy.remind_before_minutes)
    if policy.remind_before_minutes and now >= view.deadline - remind:
        left = max(0, int((view.deadline - now).total_seconds() // 60))
        return TimelineEntry(
            incident_id=incident.id,
            kind="sla.reminded",
            message=f"SLA: {target}; {left} min left, deadline {view.deadline.isoformat()}",
            actor="sla",
            data=data,
            event_key=f"{incident.id}:sla.reminded:{view.kind.value}",
        )
    return None
