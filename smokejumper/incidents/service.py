"""Read incidents from the store by reference (INC-2026-0001), number or fingerprint.

What these return is what viewers read (the API, the CLI, the console): every free-text
value is masked here (`AKIA…7Q2Z`, `j…@….com`), so no caller can forget to. The values as
received stay behind the raw-alert and raw-evidence endpoints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smokejumper.domain.incidents import LIFT_STEP
from smokejumper.incidents.schemas import (
    AlertSummary,
    IncidentDetail,
    IncidentPage,
    IncidentSummary,
    TimelineItem,
)
from smokejumper.masking import mask, mask_data
from smokejumper.redaction import DEFAULT, Redactor
from smokejumper.store.tables import ROW_ID_MAX, AlertRow, Incident, TimelineEvent

# Who a playbook notified or asked: configured people, groups and inventory owners, which
# responders need to read as they are. Everything else a timeline entry carries is masked.
_ROUTING = frozenset({"to", "approvers", "escalate_to"})
_REF = re.compile(r"^INC-\d{4}-(\d+)$", re.IGNORECASE)


def find_incident(session: Session, ident: str) -> Incident | None:
    ident = ident.strip()
    match = _REF.match(ident)
    if match:
        return session.scalars(select(Incident).where(Incident.ref == ident.upper())).first()
    # ASCII digits only ("³".isdigit() is true too), and no more than a row id can hold.
    if ident.isascii() and ident.isdigit() and len(ident) <= 10 and int(ident) <= ROW_ID_MAX:
        return session.get(Incident, int(ident))
    by_workflow = session.scalars(
        select(Incident).where(Incident.workflow_id == ident).order_by(Incident.id.desc())
    ).first()
    if by_workflow is not None:
        return by_workflow
    # A fingerprint (or an old fingerprint-only workflow id) names the newest incident
    # that carried it.
    fingerprint = ident.removeprefix("incident-")
    return session.scalars(
        select(Incident).where(Incident.fingerprint == fingerprint).order_by(Incident.id.desc())
    ).first()


def temporal_link(ui: str, namespace: str, workflow_id: str, run_id: str | None) -> str:
    """The incident's run in the Temporal UI; without a recorded run id (incidents from
    before runs recorded it) the workflow, whose newest run the UI opens."""
    base = f"{ui.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows/"
    base += quote(workflow_id, safe="")
    return f"{base}/{quote(run_id, safe='')}/history" if run_id else base


def _run_id(events: Sequence[TimelineEvent]) -> str | None:
    """The run that started the incident's playbook most recently (a re-open starts one)."""
    for event in reversed(events):
        if event.kind == "playbook.started" and isinstance(event.data.get("run_id"), str):
            return str(event.data["run_id"])
    return None


def awaiting_lift(detail: IncidentDetail) -> bool:
    """A closed incident whose run still waits for someone to approve lifting its
    containment: the one closed incident whose run is worth asking for its state."""
    for event in reversed(detail.timeline):
        if event.step == LIFT_STEP:
            return event.kind == "approval.requested"
    return False


def summarize(incident: Incident, redactor: Redactor = DEFAULT) -> IncidentSummary:
    return IncidentSummary(
        id=incident.ref or str(incident.id),
        number=incident.id,
        title=mask(incident.title, redactor),
        kind=incident.kind,
        severity=incident.severity,
        status=incident.status,
        playbook=incident.playbook,
        alert_count=incident.alert_count,
        opened_at=incident.opened_at,
        updated_at=incident.updated_at,
        closed_at=incident.closed_at,
        workflow_id=incident.workflow_id,
    )


def list_incidents(
    session: Session,
    *,
    status: str | None = None,
    severity: str | None = None,
    kind: str | None = None,
    playbook: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> IncidentPage:
    query = select(Incident)
    for column, value in (
        (Incident.status, status),
        (Incident.severity, severity),
        (Incident.kind, kind),
        (Incident.playbook, playbook),
    ):
        if value is not None:
            query = query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Incident.id.desc()).limit(limit).offset(offset)).all()
    return IncidentPage(
        items=[summarize(row) for row in rows], total=total, limit=limit, offset=offset
    )


def incident_detail(
    session: Session,
    incident: Incident,
    temporal_ui: str | None,
    namespace: str,
    redactor: Redactor = DEFAULT,
) -> IncidentDetail:
    alerts = session.scalars(
        select(AlertRow).where(AlertRow.incident_id == incident.id).order_by(AlertRow.received_at)
    ).all()
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.at, TimelineEvent.id)
    ).all()
    ui_url = (
        temporal_link(temporal_ui, namespace, incident.workflow_id, _run_id(events))
        if temporal_ui
        else None
    )
    return IncidentDetail(
        **summarize(incident, redactor).model_dump(),
        fingerprint=incident.fingerprint,
        route=incident.route,
        principal=mask_data(incident.principal, redactor),
        target=mask_data(incident.target, redactor),
        labels=mask_data(incident.labels, redactor),
        owasp=incident.owasp,
        atlas=incident.atlas,
        acknowledged_at=incident.acknowledged_at,
        contained_at=incident.contained_at,
        resolved_at=incident.resolved_at,
        alerts=[
            AlertSummary(
                id=alert.id,
                source=alert.source,
                kind=alert.kind,
                severity=alert.severity,
                title=mask(alert.title, redactor),
                received_at=alert.received_at,
                occurred_at=alert.occurred_at,
                deduplicated=alert.deduplicated,
                dispatched=alert.dispatched_at is not None,
            )
            for alert in alerts
        ],
        timeline=[
            TimelineItem(
                at=event.at,
                kind=event.kind,
                step=mask(event.step, redactor) if event.step else event.step,
                actor=event.actor,
                message=mask(event.message, redactor),
                data={
                    key: value if key in _ROUTING else mask_data(value, redactor)
                    for key, value in event.data.items()
                },
            )
            for event in events
        ],
        temporal_ui_url=ui_url,
    )
