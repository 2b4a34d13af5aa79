"""Tasks and service levels over the API: everyone reads an incident's tasks and SLAs;
responders add tasks, complete them (a playbook waiting for one then goes on) and
acknowledge incidents. Every write is on the timeline and in the audit log, with the
surface it came through."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel

from smokejumper.api.auth import ResponderAccess, Surface, ViewerAccess
from smokejumper.api.state import AppState, app_state
from smokejumper.domain.tasks import TaskState
from smokejumper.incidents import slas, tasks
from smokejumper.incidents.slas import AcknowledgeRefused, IncidentMissing, SlaView
from smokejumper.incidents.tasks import (
    TaskComplete,
    TaskCreate,
    TaskNotFound,
    TaskRefused,
    TaskView,
    TimelineHook,
)
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.store.tables import ROW_ID_MAX

router = APIRouter(prefix="/api/v1", tags=["tasks and SLAs"])

IncidentId = Annotated[str, Path(max_length=120)]
TaskId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="The task's id.")]
_NO_INCIDENT: dict[int | str, dict[str, Any]] = {404: {"description": "No such incident"}}


class Acknowledged(BaseModel):
    incident: str
    acknowledged_by: str
    acknowledged_at: str


def timeline_hook(request: Request) -> TimelineHook | None:
    """Who hears of a task added or completed here (Slack's relay): set on the app by the
    process that builds it (the core does not import integrations)."""
    hook: TimelineHook | None = getattr(request.app.state, "timeline_hook", None)
    return hook


Hook = Annotated[TimelineHook | None, Depends(timeline_hook)]


def _http(exc: Exception) -> HTTPException:
    if isinstance(exc, LookupError):
        return HTTPException(status_code=404, detail=str(exc))
    return HTTPException(status_code=409, detail=str(exc))


@router.get("/incidents/{incident_id}/tasks", response_model=list[TaskView], responses=_NO_INCIDENT)
async def list_tasks(
    incident_id: IncidentId,
    state: Annotated[AppState, Depends(app_state)],
    _caller: ViewerAccess,
    task_state: Annotated[TaskState | None, Query(alias="state")] = None,
) -> list[TaskView]:
    """The incident's tasks, oldest first (`?state=open` for the open ones)."""
    redactor = await asyncio.to_thread(redactor_for, state.store, state.settings)
    try:
        return await asyncio.to_thread(
            tasks.tasks_of, state.store, incident_id, state=task_state, redactor=redactor
        )
    except TaskNotFound as exc:
        raise _http(exc) from None


@router.post(
    "/incidents/{incident_id}/tasks",
    response_model=TaskView,
    status_code=201,
    responses={403: {}, **_NO_INCIDENT},
)
async def add_task(
    incident_id: IncidentId,
    body: TaskCreate,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
    surface: Surface,
    hook: Hook,
) -> TaskView:
    """Add a task (an owner and a due time in minutes are optional)."""
    redactor = await asyncio.to_thread(redactor_for, state.store, state.settings)
    try:
        return await tasks.add(
            state.store,
            incident_id,
            body,
            by=caller.name,
            via=surface,
            on_recorded=hook,
            redactor=redactor,
        )
    except TaskNotFound as exc:
        raise _http(exc) from None


@router.post(
    "/incidents/{incident_id}/tasks/{task_id}/complete",
    response_model=TaskView,
    responses={
        403: {},
        404: {"description": "No such incident, or no such task on it"},
        409: {"description": "The task is done already, or cancelled"},
    },
)
async def complete_task(
    incident_id: IncidentId,
    task_id: TaskId,
    body: TaskComplete,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
    surface: Surface,
    hook: Hook,
) -> TaskView:
    """Mark a task done, with an optional note; a playbook waiting for it goes on."""
    redactor = await asyncio.to_thread(redactor_for, state.store, state.settings)
    try:
        return await tasks.complete(
            state.store,
            state.temporal,
            incident_id,
            task_id,
            body.note,
            by=caller.name,
            via=surface,
            on_recorded=hook,
            redactor=redactor,
        )
    except (TaskNotFound, TaskRefused) as exc:
        raise _http(exc) from None


@router.post(
    "/incidents/{incident_id}/acknowledge",
    response_model=Acknowledged,
    responses={403: {}, **_NO_INCIDENT, 409: {"description": "Not open: acknowledged already"}},
)
async def acknowledge_incident(
    incident_id: IncidentId,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
    surface: Surface,
) -> Acknowledged:
    """Acknowledge an open incident: it stops its time-to-acknowledge target."""
    try:
        ref, at = await asyncio.to_thread(
            slas.acknowledge, state.store, incident_id, by=caller.name, via=surface
        )
    except (IncidentMissing, AcknowledgeRefused) as exc:
        raise _http(exc) from None
    return Acknowledged(incident=ref, acknowledged_by=caller.name, acknowledged_at=at.isoformat())


@router.get("/incidents/{incident_id}/slas", response_model=list[SlaView], responses=_NO_INCIDENT)
async def incident_slas(
    incident_id: IncidentId, state: Annotated[AppState, Depends(app_state)], _caller: ViewerAccess
) -> list[SlaView]:
    """The incident's service-level targets (`[slas.<severity>]`) and where each stands."""
    try:
        return await asyncio.to_thread(
            slas.incident_slas, state.store, incident_id, state.settings.slas
        )
    except IncidentMissing as exc:
        raise _http(exc) from None
