"""`GET /api/v1/incidents` and `GET /api/v1/incidents/{id}`."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from smokejumper.api.auth import Operator
from smokejumper.api.state import AppState, app_state
from smokejumper.domain.alerts import AlertKind, Severity
from smokejumper.domain.incidents import (
    UPDATE_CLOSE,
    UPDATE_DECIDE,
    CloseRequest,
    IncidentState,
    IncidentStatus,
)
from smokejumper.incidents.schemas import IncidentDetail, IncidentPage
from smokejumper.incidents.service import find_incident, incident_detail, list_incidents
from smokejumper.sdk.approvals import DecisionRequest, VoteReceipt

router = APIRouter(prefix="/api/v1", tags=["incidents"])


@router.get("/incidents", response_model=IncidentPage)
async def get_incidents(
    state: Annotated[AppState, Depends(app_state)],
    _operator: Operator,
    status: IncidentStatus | None = None,
    severity: Severity | None = None,
    kind: AlertKind | None = None,
    playbook: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> IncidentPage:
    def query() -> IncidentPage:
        with state.store.session() as session:
            return list_incidents(
                session,
                status=status.value if status else None,
                severity=severity.value if severity else None,
                kind=kind.value if kind else None,
                playbook=playbook,
                limit=limit,
                offset=offset,
            )

    return await asyncio.to_thread(query)


@router.get(
    "/incidents/{incident_id}",
    response_model=IncidentDetail,
    responses={401: {"description": "No operator token"}, 404: {"description": "No such incident"}},
)
async def get_incident(
    incident_id: Annotated[str, Path(max_length=120)],
    state: Annotated[AppState, Depends(app_state)],
    _operator: Operator,
) -> IncidentDetail:
    settings = state.settings

    def query() -> IncidentDetail | None:
        with state.store.session() as session:
            incident = find_incident(session, incident_id)
            if incident is None:
                return None
            return incident_detail(
                session, incident, settings.temporal.ui_url, settings.temporal.namespace
            )

    detail = await asyncio.to_thread(query)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"no incident {incident_id!r}")
    return detail


class CloseBody(BaseModel):
    reason: str = Field(default="", max_length=2000)


@router.post(
    "/incidents/{incident_id}/close",
    response_model=IncidentState,
    responses={404: {"description": "No such incident"}, 409: {"description": "Not open"}},
)
async def close_incident(
    incident_id: Annotated[str, Path(max_length=120)],
    body: CloseBody,
    state: Annotated[AppState, Depends(app_state)],
    operator: Operator,
) -> IncidentState:
    """Close the incident through its workflow; its fingerprint then opens new incidents."""

    def lookup() -> tuple[str, str] | None:
        with state.store.session() as session:
            incident = find_incident(session, incident_id)
            if incident is None:
                return None
            return incident.workflow_id, incident.status

    found = await asyncio.to_thread(lookup)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no incident {incident_id!r}")
    workflow_id, status = found
    if status == IncidentStatus.CLOSED.value:
        raise HTTPException(status_code=409, detail=f"incident {incident_id} is already closed")
    client = await state.temporal()
    handle = client.get_workflow_handle(workflow_id)
    # Until API tokens exist every API caller acts as the configured operator identity.
    request = CloseRequest(actor=state.settings.operator, reason=body.reason)
    del operator  # the token proves the caller is the operator; its name comes from config
    try:
        closed: IncidentState = await handle.execute_update(
            UPDATE_CLOSE, request, result_type=IncidentState
        )
        return closed
    except WorkflowUpdateFailedError as exc:
        cause = str(exc.cause) if exc.cause else str(exc)
        raise HTTPException(status_code=409, detail=cause) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(
                status_code=409, detail=f"incident {incident_id} has no running workflow"
            ) from None
        raise


class DecisionBody(BaseModel):
    approve: bool
    reason: str = Field(default="", max_length=2000)
    via: str = Field(default="api", max_length=40)


@router.post(
    "/incidents/{incident_id}/approvals/{step}",
    response_model=VoteReceipt,
    responses={
        404: {"description": "No such incident"},
        409: {"description": "Refused: not pending, not an approver, self-approval, late"},
    },
)
async def decide_approval(
    incident_id: Annotated[str, Path(max_length=120)],
    step: Annotated[str, Path(max_length=100)],
    body: DecisionBody,
    state: Annotated[AppState, Depends(app_state)],
    _operator: Operator,
) -> VoteReceipt:
    """Approve or deny a pending step, as the operator identity; the first valid answer
    decides and later ones are refused with the reason."""

    def lookup() -> str | None:
        with state.store.session() as session:
            incident = find_incident(session, incident_id)
            return incident.workflow_id if incident is not None else None

    workflow_id = await asyncio.to_thread(lookup)
    if workflow_id is None:
        raise HTTPException(status_code=404, detail=f"no incident {incident_id!r}")
    request = DecisionRequest(
        step=step,
        approve=body.approve,
        actor=state.settings.operator,
        reason=body.reason,
        via=body.via,
    )
    handle = (await state.temporal()).get_workflow_handle(workflow_id)
    try:
        receipt: VoteReceipt = await handle.execute_update(
            UPDATE_DECIDE, request, result_type=VoteReceipt
        )
    except WorkflowUpdateFailedError as exc:
        cause = str(exc.cause) if exc.cause else str(exc)
        raise HTTPException(status_code=409, detail=cause) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(
                status_code=409, detail=f"incident {incident_id} has no running playbook"
            ) from None
        raise
    return receipt
