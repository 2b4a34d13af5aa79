"""An incident's evidence: everyone reads hashes and redacted previews; only responders
and admins get the raw bytes (evidence objects, alerts as they were received), and every
raw read is in the audit log as `evidence.raw_viewed` (who, what, which incident).

The raw bytes of evidence objects come from the evidence store, which lives in
`integrations/`: the process that builds the app passes its reader to `create_app`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from smokejumper.api.auth import ResponderAccess, ViewerAccess
from smokejumper.api.state import AppState, app_state
from smokejumper.incidents.service import find_incident
from smokejumper.masking import mask
from smokejumper.security.users import Principal
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.tables import ROW_ID_MAX, AlertRow, EvidenceItem, Incident

router = APIRouter(prefix="/api/v1", tags=["evidence"])

EvidenceReader = Callable[[str], bytes]
IncidentId = Annotated[str, Path(max_length=120)]
EvidenceId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="The evidence row's id.")]


class EvidenceSummary(BaseModel):
    id: int
    name: str
    kind: str
    sha256: str
    size: int
    uri: str
    redacted_preview: str | None
    captured_at: datetime
    captured_by: str


class RawNotFound(LookupError):
    """No such incident, or nothing of that id on it; the message says which."""


def evidence_of(session: Session, incident: Incident) -> list[EvidenceSummary]:
    rows = session.scalars(
        select(EvidenceItem)
        .where(EvidenceItem.incident_id == incident.id)
        .order_by(EvidenceItem.captured_at, EvidenceItem.id)
    ).all()
    return [
        EvidenceSummary(
            id=row.id,
            name=row.name,
            kind=row.kind,
            sha256=row.sha256,
            size=row.size,
            uri=row.uri,
            # Masked again on the way out: a preview stored by an older redactor may hold a
            # secret shape it did not know.
            redacted_preview=mask(row.redacted_preview) if row.redacted_preview else None,
            captured_at=row.captured_at,
            captured_by=row.captured_by,
        )
        for row in rows
    ]


def _incident(session: Session, incident_id: str) -> Incident:
    incident = find_incident(session, incident_id)
    if incident is None:
        raise RawNotFound(f"no incident {incident_id!r}")
    return incident


def raw_alert(store: Store, incident_id: str, alert_id: str) -> str:
    """The alert body exactly as its source sent it."""
    with store.session() as session:
        incident = _incident(session, incident_id)
        alert = session.get(AlertRow, alert_id)
        if alert is None or alert.incident_id != incident.id:
            raise RawNotFound(f"incident {incident_id} has no alert {alert_id!r}")
        if alert.raw_deleted_at is not None:
            raise RawNotFound(
                f"the body of alert {alert_id} was deleted by retention on "
                f"{alert.raw_deleted_at:%Y-%m-%d}; its normalised record is in the incident"
            )
        return alert.raw


def raw_evidence(
    store: Store, reader: EvidenceReader | None, incident_id: str, evidence_id: int
) -> tuple[EvidenceItem, bytes]:
    """The evidence row and its bytes from the evidence store."""
    with store.session() as session:
        incident = _incident(session, incident_id)
        item = session.get(EvidenceItem, evidence_id)
        if item is None or item.incident_id != incident.id:
            raise RawNotFound(f"incident {incident_id} has no evidence {evidence_id}")
        session.expunge(item)
    if reader is None:
        raise RawNotFound("this API process has no evidence store to read from")
    return item, reader(item.uri)


def audit_raw_read(store: Store, caller: Principal, incident_id: str, what: dict[str, Any]) -> None:
    """Raw bytes hold what the redacted views hide: who read them is on the record."""
    with store.transaction() as session:
        audit.append(
            session,
            actor=caller.name,
            action="evidence.raw_viewed",
            subject=incident_id,
            data={**what, "via": caller.via},
        )


def evidence_reader(request: Request) -> EvidenceReader | None:
    reader: EvidenceReader | None = getattr(request.app.state, "evidence_reader", None)
    return reader


def _not_found(exc: RawNotFound) -> HTTPException:
    return HTTPException(status_code=404, detail=str(exc))


@router.get(
    "/incidents/{incident_id}/evidence",
    response_model=list[EvidenceSummary],
    responses={404: {"description": "No such incident"}},
)
async def list_evidence(
    incident_id: IncidentId, state: Annotated[AppState, Depends(app_state)], _caller: ViewerAccess
) -> list[EvidenceSummary]:
    """Hashes, sizes and redacted previews: what every role may see."""

    def query() -> list[EvidenceSummary]:
        with state.store.session() as session:
            return evidence_of(session, _incident(session, incident_id))

    try:
        return await asyncio.to_thread(query)
    except RawNotFound as exc:
        raise _not_found(exc) from None


@router.get(
    "/incidents/{incident_id}/evidence/{evidence_id}/raw",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, 403: {}, 404: {}},
)
async def get_raw_evidence(
    incident_id: IncidentId,
    evidence_id: EvidenceId,
    state: Annotated[AppState, Depends(app_state)],
    reader: Annotated[EvidenceReader | None, Depends(evidence_reader)],
    caller: ResponderAccess,
) -> Response:
    """The captured bytes, unredacted (responders and admins only); audited."""
    try:
        item, data = await asyncio.to_thread(
            raw_evidence, state.store, reader, incident_id, evidence_id
        )
    except RawNotFound as exc:
        raise _not_found(exc) from None
    what = {"evidence": item.name, "evidence_id": item.id, "sha256": item.sha256}
    await asyncio.to_thread(audit_raw_read, state.store, caller, incident_id, what)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "x-content-sha256": item.sha256,
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        },
    )


@router.get(
    "/incidents/{incident_id}/alerts/{alert_id}/raw",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 403: {}, 404: {}},
)
async def get_raw_alert(
    incident_id: IncidentId,
    alert_id: Annotated[str, Path(max_length=36)],
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
) -> Response:
    """The alert as received, unredacted (responders and admins only); audited."""
    try:
        raw = await asyncio.to_thread(raw_alert, state.store, incident_id, alert_id)
    except RawNotFound as exc:
        raise _not_found(exc) from None
    await asyncio.to_thread(audit_raw_read, state.store, caller, incident_id, {"alert": alert_id})
    # nosniff: the body is whatever the sender wrote; a browser must not render it as HTML.
    return Response(
        raw,
        media_type="text/plain",
        headers={"cache-control": "no-store", "x-content-type-options": "nosniff"},
    )
