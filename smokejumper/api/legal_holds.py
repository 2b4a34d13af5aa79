"""Legal holds over the API: everyone reads them, responders place them, admins release
them and purge an incident's evidence (refused, deleting nothing, while anything is held).
Every change is in the audit log.

The evidence store that removes objects lives in `integrations/`: the process that builds
the app passes its delete to `create_app`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel

from smokejumper.api.auth import AdminAccess, ResponderAccess, ViewerAccess
from smokejumper.api.state import AppState, app_state
from smokejumper.incidents import legal_holds
from smokejumper.incidents.legal_holds import (
    EvidenceDeleter,
    EvidenceHeld,
    HoldNotFound,
    HoldRefused,
    HoldRequest,
    HoldView,
    PurgeRequest,
    ReleaseRequest,
)
from smokejumper.store.tables import ROW_ID_MAX

router = APIRouter(prefix="/api/v1", tags=["evidence"])

IncidentId = Annotated[str, Path(max_length=120)]
HoldId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="The hold's id.")]


class PurgeReceipt(BaseModel):
    incident: str
    deleted: int
    objects_removed: int
    object_errors: list[str]


def evidence_deleter(request: Request) -> EvidenceDeleter | None:
    deleter: EvidenceDeleter | None = getattr(request.app.state, "evidence_deleter", None)
    return deleter


def _refused(exc: Exception) -> HTTPException:
    if isinstance(exc, HoldNotFound):
        return HTTPException(status_code=404, detail=str(exc))
    return HTTPException(status_code=409, detail=str(exc))


@router.get(
    "/incidents/{incident_id}/legal-holds",
    response_model=list[HoldView],
    responses={404: {"description": "No such incident"}},
)
async def list_holds(
    incident_id: IncidentId, state: Annotated[AppState, Depends(app_state)], _caller: ViewerAccess
) -> list[HoldView]:
    """Every hold of the incident, released ones included (the record of who held what)."""
    try:
        return await asyncio.to_thread(legal_holds.holds_of, state.store, incident_id)
    except HoldNotFound as exc:
        raise _refused(exc) from None


@router.post(
    "/incidents/{incident_id}/legal-holds",
    response_model=HoldView,
    status_code=201,
    responses={403: {}, 404: {"description": "No such incident, or no such evidence on it"}},
)
async def place_hold(
    incident_id: IncidentId,
    request: HoldRequest,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
) -> HoldView:
    """Hold one evidence item, or every item of the incident (later captures included)."""
    try:
        return await asyncio.to_thread(
            legal_holds.place, state.store, incident_id, request, by=caller.name, via=caller.via
        )
    except HoldNotFound as exc:
        raise _refused(exc) from None


@router.post(
    "/incidents/{incident_id}/legal-holds/{hold_id}/release",
    response_model=HoldView,
    responses={403: {}, 404: {}, 409: {"description": "Already released"}},
)
async def release_hold(
    incident_id: IncidentId,
    hold_id: HoldId,
    request: ReleaseRequest,
    state: Annotated[AppState, Depends(app_state)],
    caller: AdminAccess,
) -> HoldView:
    try:
        return await asyncio.to_thread(
            legal_holds.release,
            state.store,
            incident_id,
            hold_id,
            request,
            by=caller.name,
            via=caller.via,
        )
    except (HoldNotFound, HoldRefused) as exc:
        raise _refused(exc) from None


@router.post(
    "/incidents/{incident_id}/evidence/purge",
    response_model=PurgeReceipt,
    responses={
        403: {},
        404: {},
        409: {"description": "Evidence on legal hold: nothing deleted"},
        503: {"description": "This API process has no evidence store"},
    },
)
async def purge_evidence(
    incident_id: IncidentId,
    request: PurgeRequest,
    state: Annotated[AppState, Depends(app_state)],
    deleter: Annotated[EvidenceDeleter | None, Depends(evidence_deleter)],
    caller: AdminAccess,
) -> PurgeReceipt:
    """Delete every evidence item of the incident, each deletion audited; all or nothing
    against legal holds."""
    if deleter is None:
        raise HTTPException(status_code=503, detail="this API process has no evidence store")
    try:
        done = await asyncio.to_thread(
            legal_holds.purge,
            state.store,
            incident_id,
            request,
            deleter,
            by=caller.name,
            via=caller.via,
        )
    except (HoldNotFound, EvidenceHeld) as exc:
        raise _refused(exc) from None
    return PurgeReceipt(
        incident=incident_id,
        deleted=len(done.deleted),
        objects_removed=done.objects_removed,
        object_errors=done.object_errors,
    )
