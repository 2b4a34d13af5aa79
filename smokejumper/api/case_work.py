"""Case records over the API: commander and assignees, notes, tags, links and merges.

Viewers read; responders write. Every write records the surface it came from: `api`,
or what the client names in `X-Smokejumper-Via` (`cli`, `mcp`: the tools that call this
API on a person's behalf). The console and Slack call the service directly and name
themselves; no client can claim to be them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, Field
from temporalio.service import RPCError

from smokejumper.api.auth import ResponderAccess, Surface, ViewerAccess
from smokejumper.api.state import AppState, app_state
from smokejumper.domain.incidents import UPDATE_CLOSE, CloseRequest, IncidentState
from smokejumper.domain.text import StorableText
from smokejumper.incidents import case_work
from smokejumper.incidents.case_work import (
    NOTE_MAX,
    CaseConflict,
    CaseInvalid,
    CaseNotFound,
    CaseRecord,
    LinkKind,
    MergeResult,
    NoteView,
    Via,
)
from smokejumper.incidents.playbook_updates import IncidentNotFound, PlaybookRefused, send_update
from smokejumper.inventory.key_prefixes import redactor_for

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["case records"])

IncidentId = Annotated[str, Path(max_length=120)]
_READ: dict[int | str, dict[str, Any]] = {404: {"description": "No such incident"}}
_WRITE: dict[int | str, dict[str, Any]] = {
    403: {"description": "Needs the responder role"},
    404: {"description": "No such incident"},
    422: {"description": "Invalid input; the detail names the field"},
}
_CLIENT_VIA: dict[str, Via] = {"cli": "cli", "mcp": "mcp"}


def request_via(surface: Surface) -> Via:
    """The surface `auth.request_surface` read from `X-Smokejumper-Via`, typed for the
    service."""
    return _CLIENT_VIA.get(surface, "api")


RequestVia = Annotated[Via, Depends(request_via)]


class CommanderBody(BaseModel):
    user: StorableText | None = Field(description="A known responder; null clears the commander.")


class AssigneeBody(BaseModel):
    user: StorableText = Field(min_length=1, max_length=200)


class NoteBody(BaseModel):
    text: StorableText = Field(min_length=1, max_length=NOTE_MAX)


class TagBody(BaseModel):
    tag: StorableText = Field(min_length=1, max_length=64)


class LinkBody(BaseModel):
    incident: StorableText = Field(min_length=1, max_length=120, description="The other incident.")
    kind: LinkKind = "related"


class MergeBody(BaseModel):
    into: StorableText = Field(
        min_length=1, max_length=120, description="The incident to merge into."
    )


class MergeReceipt(MergeResult):
    # Whether a running playbook of the merged incident was told to end (false: none ran).
    playbook_ended: bool


def _http(exc: Exception) -> HTTPException:
    if isinstance(exc, CaseInvalid):
        return HTTPException(
            status_code=422,
            detail=[{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}],
        )
    if isinstance(exc, CaseNotFound):
        return HTTPException(status_code=404, detail=str(exc))
    return HTTPException(status_code=409, detail=str(exc))


_CASE_ERRORS = (CaseInvalid, CaseNotFound, CaseConflict)
T = TypeVar("T")
P = ParamSpec("P")


async def _in_thread(service: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """A case-work service call off the event loop; its refusals as HTTP errors."""
    try:
        return await asyncio.to_thread(service, *args, **kwargs)
    except _CASE_ERRORS as exc:
        raise _http(exc) from None


@router.get("/incidents/{incident_id}/case", response_model=CaseRecord, responses=_READ)
async def get_case(
    incident_id: IncidentId, state: Annotated[AppState, Depends(app_state)], _caller: ViewerAccess
) -> CaseRecord:
    """Commander, assignees, tags, links and where the incident was merged to."""
    return await _in_thread(case_work.case_record, state.store, incident_id)


@router.put("/incidents/{incident_id}/commander", response_model=CaseRecord, responses=_WRITE)
async def put_commander(
    incident_id: IncidentId,
    body: CommanderBody,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
    via: RequestVia,
) -> CaseRecord:
    return await _in_thread(
        case_work.set_commander,
        state.store,
        state.settings,
        incident_id,
        body.user,
        by=caller.name,
        via=via,
    )


@router.post("/incidents/{incident_id}/assignees", response_model=CaseRecord, responses=_WRITE)
async def post_assignee(
    incident_id: IncidentId,
    body: AssigneeBody,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
    via: RequestVia,
) -> CaseRecord:
    return await _in_thread(
        case_work.add_assignee,
        state.store,
        state.settings,
        incident_id,
        body.user,
        by=caller.name,
        via=via,
    )


@router.delete(
    "/incidents/{incident_id}/assignees/{user}",
    response_model=CaseRecord,
    responses={**_WRITE, 404: {"description": "No such incident, or the user is not assigned"}},
)
async def delete_assignee(
    incident_id: IncidentId,
    user: Annotated[str, Path(max_length=200)],
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
    via: RequestVia,
) -> CaseRecord:
    return await _in_thread(
        case_work.remove_assignee, state.store, incident_id, user, by=caller.name, via=via
    )


@router.get("/incidents/{incident_id}/notes", response_model=list[NoteView], responses=_READ)
async def get_notes(
    incident_id: IncidentId, state: Annotated[AppState, Depends(app_state)], _caller: ViewerAccess
) -> list[NoteView]:
    """The incident's notes, oldest first, with secrets and personal data masked."""
    redactor = await asyncio.to_thread(redactor_for, state.store, state.settings)
    return await _in_thread(case_work.notes_of, state.store, incident_id, redactor)


@router.post(
    "/incidents/{incident_id}/notes", response_model=NoteView, status_code=201, responses=_WRITE
)
async def post_note(
    incident_id: IncidentId,
    body: NoteBody,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
    via: RequestVia,
) -> NoteView:
    """Add a note; it is stored as written and shown masked."""
    redactor = await asyncio.to_thread(redactor_for, state.store, state.settings)
    note = await _in_thread(
        case_work.add_note,
        state.store,
        incident_id,
        body.text,
        author=caller.name,
        via=via,
        redactor=redactor,
    )
    assert note is not None  # only a captured note (with a source key) can be a repeat
    return note


@router.post("/incidents/{incident_id}/tags", response_model=CaseRecord, responses=_WRITE)
async def post_tag(
    incident_id: IncidentId,
    body: TagBody,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
    via: RequestVia,
) -> CaseRecord:
    return await _in_thread(
        case_work.add_tag, state.store, incident_id, body.tag, by=caller.name, via=via
    )


@router.delete(
    "/incidents/{incident_id}/tags/{tag}",
    response_model=CaseRecord,
    responses={**_WRITE, 404: {"description": "No such incident, or it has no such tag"}},
)
async def delete_tag(
    incident_id: IncidentId,
    tag: Annotated[str, Path(max_length=64)],
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
    via: RequestVia,
) -> CaseRecord:
    return await _in_thread(
        case_work.remove_tag, state.store, incident_id, tag, by=caller.name, via=via
    )


@router.post(
    "/incidents/{incident_id}/links",
    response_model=CaseRecord,
    responses={**_WRITE, 404: {"description": "No such incident, or no such other incident"}},
)
async def post_link(
    incident_id: IncidentId,
    body: LinkBody,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
    via: RequestVia,
) -> CaseRecord:
    return await _in_thread(
        case_work.link,
        state.store,
        incident_id,
        body.incident,
        body.kind,
        by=caller.name,
        via=via,
    )


@router.post(
    "/incidents/{incident_id}/merge",
    response_model=MergeReceipt,
    responses={
        **_WRITE,
        404: {"description": "No such incident, or no incident to merge into"},
        409: {"description": "Already merged or closed, target closed, or a merge chain"},
    },
)
async def post_merge(
    incident_id: IncidentId,
    body: MergeBody,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
    via: RequestVia,
) -> MergeReceipt:
    """Merge this incident into `into`: its alerts, notes and tasks move there, it is
    closed pointing at the target, and its playbook ends. Later alerts of its fingerprint
    join the target while the target is open."""
    merged = await _in_thread(
        case_work.merge, state.store, incident_id, body.into, by=caller.name, via=via
    )
    ended = await end_playbook(state, merged, caller.name)
    return MergeReceipt(**merged.model_dump(), playbook_ended=ended)


async def end_playbook(state: AppState, merged: MergeResult, actor: str) -> bool:
    """Close the merged incident's run as a responder's close does (approvals withdrawn,
    clocks stopped, containment left in force); False when no run was there to end."""
    request = CloseRequest(actor=actor, reason=f"merged into {merged.into}")
    try:
        await send_update(
            state.store, state.temporal, merged.merged, UPDATE_CLOSE, request, IncidentState
        )
    except PlaybookRefused as exc:
        if not exc.no_run:
            log.warning("the playbook of %s refused to end on merge: %s", merged.merged, exc)
        return False
    except (IncidentNotFound, RPCError, RuntimeError) as exc:
        # The store records the merge either way; the run is left for `incidents close`.
        log.warning("could not end the playbook of %s: %s", merged.merged, type(exc).__name__)
        return False
    return True
