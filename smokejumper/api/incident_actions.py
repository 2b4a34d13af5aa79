"""Acting on a running incident: close, approve/deny, abort, restore, stop a clock.

Each becomes a Temporal update on the incident's playbook; the playbook's validator
decides, and a refusal comes back as 409 with its reason. Until per-user tokens exist, the
caller acts as the configured operator identity.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import AwareDatetime, BaseModel, Field, model_validator
from sqlalchemy import select
from temporalio.client import (
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.service import RPCError

from smokejumper.api.auth import ResponderAccess, Surface, ViewerAccess, refused
from smokejumper.api.state import AppState, app_state
from smokejumper.domain.incidents import (
    UPDATE_ABORT,
    UPDATE_CLOSE,
    UPDATE_RESTORE,
    UPDATE_STOP_CLOCK,
    AbortRequest,
    ClockView,
    CloseRequest,
    IncidentState,
    IncidentStatus,
    RestoreRequest,
)
from smokejumper.domain.text import StorableText
from smokejumper.incidents import playbook_updates
from smokejumper.incidents.playbook_updates import (
    IncidentNotFound,
    PlaybookRefused,
    refusal,
    run_handle,
    send_update,
)
from smokejumper.incidents.service import find_incident
from smokejumper.sdk.approvals import Choice, DecisionRequest, VoteReceipt
from smokejumper.sdk.clocks import StopClock
from smokejumper.security.users import Principal, Role
from smokejumper.store import audit
from smokejumper.store.tables import Action

router = APIRouter(prefix="/api/v1", tags=["incident actions"])

ResultT = TypeVar("ResultT", bound=BaseModel)

_NOT_READY_ATTEMPTS = 5
_REFUSAL_WAIT = timedelta(seconds=0.5)
# Action rows whose effect holds: completed, or started and not known to have failed.
_IN_FORCE = ("completed", "started")
IncidentId = Annotated[str, Path(max_length=120)]
_REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such incident"},
    409: {"description": "Refused by the playbook, with the reason"},
}


class ReasonBody(BaseModel):
    reason: StorableText = Field(default="", max_length=2000)


class CloseBody(BaseModel):
    reason: StorableText = Field(default="", max_length=2000)
    # A false positive: undo the containment too, once someone else approves (as a restore).
    lift_containment: bool = False


class DecisionBody(BaseModel):
    """An approval's answer (`approve`), or a hand-off's (`choice`: retry, done — `reason`
    says what was done by hand — or skip — `reason` says why). For a hand-off, `approve`
    alone means retry (true) or skip (false)."""

    approve: bool | None = None
    choice: Choice | None = None
    reason: StorableText = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _answered(self) -> DecisionBody:
        if self.approve is None and self.choice is None:
            raise ValueError("give `approve` (an approval) or `choice` (a failed step)")
        return self


class StopClockBody(BaseModel):
    filed_at: AwareDatetime
    reference: StorableText = Field(default="", max_length=500)


class RestoreAccepted(BaseModel):
    incident_id: str
    pending_approval: str


async def _handle(state: AppState, incident_id: str) -> WorkflowHandle[Any, Any]:
    try:
        return await run_handle(state.store, state.temporal, incident_id)
    except (IncidentNotFound, PlaybookRefused) as exc:
        raise _http(exc) from None


async def _update(
    state: AppState, incident_id: str, name: str, arg: BaseModel, result: type[ResultT]
) -> ResultT:
    try:
        return await send_update(state.store, state.temporal, incident_id, name, arg, result)
    except (IncidentNotFound, PlaybookRefused) as exc:
        raise _http(exc) from None


def _http(exc: IncidentNotFound | PlaybookRefused) -> HTTPException:
    return HTTPException(
        status_code=404 if isinstance(exc, IncidentNotFound) else 409, detail=str(exc)
    )


@router.post("/incidents/{incident_id}/close", response_model=IncidentState, responses=_REFUSED)
async def close_incident(
    incident_id: IncidentId,
    body: CloseBody,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
) -> IncidentState:
    """Close the incident and end its playbook run: pending approvals are withdrawn and
    clocks stop. The containment stays in force (`in_force` lists it) unless
    `lift_containment` is true: then someone else must approve step `lift-containment`,
    after which its steps are undone (`lifting`). The fingerprint then opens new incidents."""

    def status() -> str | None:
        with state.store.session() as session:
            incident = find_incident(session, incident_id)
            return incident.status if incident is not None else None

    # A closed incident's playbook has ended: say so rather than "no running playbook".
    if await asyncio.to_thread(status) == IncidentStatus.CLOSED.value:
        raise HTTPException(status_code=409, detail=f"incident {incident_id} is already closed")
    request = CloseRequest(
        actor=caller.name, reason=body.reason, lift_containment=body.lift_containment
    )
    closed = await _update(state, incident_id, UPDATE_CLOSE, request, IncidentState)
    recorded = await asyncio.to_thread(_actions_in_force, state, closed.incident_id)
    # The store also knows a step the close stopped while its provider call was under way.
    closed.in_force += [step for step in recorded if step not in closed.in_force]
    return closed


def _actions_in_force(state: AppState, incident_number: int) -> list[str]:
    """Steps whose containment action the store holds as applied (or under way) and not
    undone, by step name (targets stay behind the console's masking)."""
    with state.store.session() as session:
        rows = session.execute(
            select(Action.step, Action.action, Action.status)
            .where(Action.incident_id == incident_number, Action.status.in_(_IN_FORCE))
            .order_by(Action.started_at)
        ).all()
    found: list[str] = []
    for step, action, status in rows:
        name = step or action
        if status == "started":
            name += " (under way when the playbook stopped)"
        if name not in found:
            found.append(name)
    return found


@router.post(
    "/incidents/{incident_id}/approvals/{step}",
    response_model=VoteReceipt,
    responses={**_REFUSED, 403: {"description": "Not a responder, or sent through MCP"}},
)
async def decide_approval(
    incident_id: IncidentId,
    step: Annotated[str, Path(max_length=100)],
    body: DecisionBody,
    state: Annotated[AppState, Depends(app_state)],
    # Any signed-in caller gets this far, so that an assistant's attempt is on the record
    # whatever its role; deciding still needs a responder, checked below.
    caller: ViewerAccess,
    surface: Surface,
) -> VoteReceipt:
    """Approve or deny a pending step; the first valid answer decides, later ones are
    refused with the reason (not an approver, own request, already answered, timed out).
    A decision sent through the MCP server is refused (403) and audited: approvals stay
    with people."""
    if surface == "mcp":
        await asyncio.to_thread(_audit_refused_approval, state, caller, incident_id, step)
        raise HTTPException(
            status_code=403,
            detail="approval refused: via mcp (approvals and denials stay with people; "
            "decide in the console, Slack or the CLI)",
        )
    if not caller.may(Role.RESPONDER):
        raise refused(caller, Role.RESPONDER, "acting on incidents")
    request = DecisionRequest(
        step=step,
        approve=body.approve
        if body.approve is not None
        else body.choice in (Choice.RETRY, Choice.DONE),
        choice=body.choice,
        actor=caller.name,
        reason=body.reason,
        # The server names the surface: a client's own `via` is ignored, so an API vote
        # cannot be recorded as a Slack one (the header names only `api` or `cli` here).
        via=surface,
    )
    return await decide(state, incident_id, request)


def _audit_refused_approval(
    state: AppState, caller: Principal, incident_id: str, step: str
) -> None:
    with state.store.transaction() as session:
        audit.append(
            session,
            actor=caller.name,
            action="approval.refused",
            subject=incident_id,
            data={"step": step, "via": "mcp", "reason": "approval refused: via mcp"},
        )


async def decide(state: AppState, incident_id: str, request: DecisionRequest) -> VoteReceipt:
    """One vote, through the playbook's `decide` update and its validator (the console's
    forms come here too); HTTPException 404/409 when there is nothing to decide or the
    playbook refuses."""
    try:
        return await playbook_updates.decide(state.store, state.temporal, incident_id, request)
    except (IncidentNotFound, PlaybookRefused) as exc:
        raise _http(exc) from None


@router.post("/incidents/{incident_id}/abort", response_model=IncidentState, responses=_REFUSED)
async def abort_playbook(
    incident_id: IncidentId,
    body: ReasonBody,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
) -> IncidentState:
    """Stop the running playbook and undo its completed reversible steps."""
    request = AbortRequest(actor=caller.name, reason=body.reason)
    return await _update(state, incident_id, UPDATE_ABORT, request, IncidentState)


@router.post(
    "/incidents/{incident_id}/restore",
    status_code=202,
    response_model=RestoreAccepted,
    responses=_REFUSED,
)
async def restore_incident(
    incident_id: IncidentId,
    body: ReasonBody,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
) -> RestoreAccepted:
    """Ask to undo a finished playbook's steps; someone else must approve step `restore`."""
    handle = await _handle(state, incident_id)
    request = RestoreRequest(actor=caller.name, reason=body.reason)
    try:
        update = await handle.start_update(
            UPDATE_RESTORE,
            request,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            result_type=IncidentState,
        )
        # A validator's refusal comes back as the update's outcome, not as an error of the
        # start: read it (at once, it is known); an accepted restore is still waiting.
        await update.result(rpc_timeout=_REFUSAL_WAIT)
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        pass
    except (WorkflowUpdateFailedError, RPCError) as exc:
        raise _http(refusal(exc, incident_id)) from None
    return RestoreAccepted(incident_id=incident_id, pending_approval="restore")


@router.post(
    "/incidents/{incident_id}/clocks/{clock}/stop", response_model=ClockView, responses=_REFUSED
)
async def stop_clock(
    incident_id: IncidentId,
    clock: Annotated[str, Path(max_length=100)],
    body: StopClockBody,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
) -> ClockView:
    """Record the filing that stops a regulatory clock (who, when, reference)."""
    filed_at: datetime = body.filed_at
    request = StopClock(clock=clock, actor=caller.name, filed_at=filed_at, reference=body.reference)
    return await _update(state, incident_id, UPDATE_STOP_CLOCK, request, ClockView)
