"""Tasks: human work items on an incident, with an owner, a due time and a state.

Responders add them (console, Slack, CLI, API, MCP); a playbook adds them with
`await self.task(...)` and may wait for them. Completing one is the same call from every
surface: the row is marked done (timeline `task.completed`, audited, with the surface in
`via`) and, when a playbook made it, the workflow that waits is told (signal `task-done`).
The row is the record: a playbook whose run has ended simply is not told.

What these return is what viewers read: the title and note are masked here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from smokejumper.domain.incidents import TimelineEntry
from smokejumper.domain.tasks import (
    NOTE_MAX,
    OWNER_MAX,
    SIGNAL_TASK_DONE,
    TITLE_MAX,
    TaskDone,
    TaskExpire,
    TaskOpen,
    TaskRecord,
    TaskState,
)
from smokejumper.domain.text import StorableText
from smokejumper.incidents.service import find_incident
from smokejumper.masking import mask
from smokejumper.redaction import DEFAULT, Redactor
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.tables import ROW_ID_MAX, Incident, IncidentTask, TimelineEvent, utcnow

log = logging.getLogger(__name__)

Temporal = Callable[[], Awaitable[Client]]
# Hears of a timeline event after it is written (Slack's relay, when configured).
TimelineHook = Callable[[TimelineEntry], Awaitable[None]]
# A year: a due time further out is a typo, not a plan.
DUE_MINUTES_MAX = 525_600


class TaskCreate(BaseModel):
    title: StorableText = Field(min_length=1, max_length=TITLE_MAX)
    owner: StorableText | None = Field(
        default=None, min_length=1, max_length=OWNER_MAX, description="Who does it."
    )
    due_minutes: int | None = Field(
        default=None, ge=1, le=DUE_MINUTES_MAX, description="Due this many minutes from now."
    )


class TaskComplete(BaseModel):
    note: StorableText | None = Field(
        default=None, max_length=NOTE_MAX, description="What was done."
    )


class TaskView(BaseModel):
    id: int
    incident: str
    title: str
    owner: str | None
    due_at: datetime | None
    state: TaskState
    created_by: str
    via: str
    created_at: datetime
    completed_by: str | None
    completed_at: datetime | None
    note: str | None
    # Made by a playbook, which may be waiting for it.
    playbook: bool
    overdue: bool


class TaskNotFound(LookupError):
    """No such incident, or no such task on it; the message says which."""


class TaskRefused(ValueError):
    """The task cannot be completed as asked (it is done already, or cancelled)."""


def _ref(incident: Incident) -> str:
    return incident.ref or str(incident.id)


def _view(
    task: IncidentTask, ref: str, now: datetime | None = None, redactor: Redactor = DEFAULT
) -> TaskView:
    """`redactor`: the configured patterns too (`inventory.key_prefixes.redactor_for`), as
    notes are shown."""
    now = now or utcnow()
    return TaskView(
        id=task.id,
        incident=ref,
        title=mask(task.title, redactor),
        owner=task.owner,
        due_at=task.due_at,
        state=TaskState(task.state),
        created_by=task.created_by,
        via=task.via,
        created_at=task.created_at,
        completed_by=task.completed_by,
        completed_at=task.completed_at,
        note=mask(task.completion_note, redactor) if task.completion_note else None,
        playbook=task.task_key is not None,
        overdue=task.state == TaskState.OPEN.value
        and task.due_at is not None
        and task.due_at <= now,
    )


def _incident(session: Session, ident: str) -> Incident:
    incident = find_incident(session, ident)
    if incident is None:
        raise TaskNotFound(f"no incident {ident!r}")
    return incident


def _task(
    session: Session, incident: Incident, task_id: int, *, lock: bool = False
) -> IncidentTask:
    # `lock`: completing twice at once, the second waits for the first and is refused.
    task = (
        session.get(IncidentTask, task_id, with_for_update=lock)
        if 1 <= task_id <= ROW_ID_MAX
        else None
    )
    # A merge moves tasks to the target; the merged incident's reference (on a Slack
    # button, in a responder's terminal) still finds them.
    if task is None or task.incident_id not in (incident.id, incident.merged_into_id):
        raise TaskNotFound(f"{_ref(incident)} has no task {task_id}")
    return task


def _holder(session: Session, incident: Incident, task: IncidentTask) -> Incident:
    """The incident the task is on now (the merge target, for a merged incident's task)."""
    if task.incident_id == incident.id:
        return incident
    moved = session.get(Incident, task.incident_id)
    assert moved is not None  # tasks.incident_id is a foreign key
    return moved


def _timeline(
    session: Session,
    task: IncidentTask,
    kind: str,
    message: str,
    actor: str,
    data: dict[str, Any],
) -> None:
    session.add(
        TimelineEvent(
            incident_id=task.incident_id,
            kind=kind,
            actor=actor,
            message=message,
            data={"task": task.id, **data},
            event_key=f"{task.incident_id}:{kind}:{task.id}",
        )
    )


def _created(session: Session, task: IncidentTask, ref: str) -> None:
    due = f", due {task.due_at.isoformat()}" if task.due_at else ""
    owner = f" for {task.owner}" if task.owner else ""
    _timeline(
        session,
        task,
        "task.created",
        f"Task {task.id} added by {task.created_by} via {task.via}{owner}{due}: {task.title}",
        task.created_by,
        {
            "owner": task.owner,
            "due_at": task.due_at.isoformat() if task.due_at else None,
            "via": task.via,
        },
    )
    audit.append(
        session,
        actor=task.created_by,
        action="task.created",
        subject=ref,
        data={"task": task.id, "owner": task.owner, "via": task.via},
    )


def create(
    store: Store,
    ident: str,
    request: TaskCreate,
    *,
    by: str,
    via: str,
    redactor: Redactor = DEFAULT,
) -> TaskView:
    """A responder's task on the incident."""
    with store.transaction() as session:
        incident = _incident(session, ident)
        now = utcnow()
        task = IncidentTask(
            incident_id=incident.id,
            title=request.title,
            owner=request.owner,
            due_at=now + timedelta(minutes=request.due_minutes) if request.due_minutes else None,
            state=TaskState.OPEN.value,
            created_by=by,
            via=via,
            created_at=now,
        )
        session.add(task)
        session.flush()
        _created(session, task, _ref(incident))
        return _view(task, _ref(incident), now, redactor)


def tasks_of(
    store: Store, ident: str, *, state: TaskState | None = None, redactor: Redactor = DEFAULT
) -> list[TaskView]:
    """The incident's tasks, oldest first."""
    with store.session() as session:
        incident = _incident(session, ident)
        query = select(IncidentTask).where(IncidentTask.incident_id == incident.id)
        if state is not None:
            query = query.where(IncidentTask.state == state.value)
        now = utcnow()
        return [
            _view(task, _ref(incident), now, redactor)
            for task in session.scalars(query.order_by(IncidentTask.id))
        ]


def task_of(store: Store, ident: str, task_id: int) -> TaskView:
    with store.session() as session:
        incident = _incident(session, ident)
        task = _task(session, incident, task_id)
        return _view(task, _ref(_holder(session, incident, task)))


def complete_task(
    store: Store,
    ident: str,
    task_id: int,
    note: str | None,
    *,
    by: str,
    via: str,
    redactor: Redactor = DEFAULT,
) -> tuple[TaskView, TaskDone | None]:
    """Mark the task done; with it, what its playbook is to be told (None when no
    playbook made it)."""
    with store.transaction() as session:
        incident = _incident(session, ident)
        task = _task(session, incident, task_id, lock=True)
        incident = _holder(session, incident, task)
        if task.state != TaskState.OPEN.value:
            who = f" by {task.completed_by}" if task.completed_by else ""
            raise TaskRefused(f"task {task_id} of {_ref(incident)} is already {task.state}{who}")
        now = utcnow()
        task.state = TaskState.DONE.value
        task.completed_by = by
        task.completed_at = now
        task.completion_note = note or None
        said = f": {note}" if note else ""
        _timeline(
            session,
            task,
            "task.completed",
            f"Task {task.id} done, as {by} recorded via {via}{said}",
            by,
            {"via": via, "title": task.title},
        )
        audit.append(
            session,
            actor=by,
            action="task.completed",
            subject=_ref(incident),
            data={"task": task.id, "via": via},
        )
        told = None
        if task.task_key is not None and task.workflow_id:
            told = TaskDone(
                task_id=task.id,
                key=task.task_key.rsplit(":task:", 1)[-1],
                actor=by,
                note=note or "",
                via=via,
                at=now,
            )
        return _view(task, _ref(incident), now, redactor), told


def _waiting_workflow(store: Store, task_id: int) -> str | None:
    with store.session() as session:
        return session.scalar(select(IncidentTask.workflow_id).where(IncidentTask.id == task_id))


async def complete(
    store: Store,
    temporal: Temporal,
    ident: str,
    task_id: int,
    note: str | None,
    *,
    by: str,
    via: str,
    on_recorded: TimelineHook | None = None,
    redactor: Redactor = DEFAULT,
) -> TaskView:
    """Complete a task from any surface, and tell the playbook that waits for it (and
    `on_recorded` of the `task.completed` entry).

    Raises TaskNotFound or TaskRefused. The row is done whatever Temporal answers: a run
    that has ended is not told, and a Temporal outage is logged, not the responder's error.
    """
    view, told = await asyncio.to_thread(
        complete_task, store, ident, task_id, note, by=by, via=via, redactor=redactor
    )
    if told is not None:
        workflow_id = await asyncio.to_thread(_waiting_workflow, store, task_id)
        if workflow_id:
            await tell_playbook(temporal, workflow_id, told)
    await _announce(store, task_id, "task.completed", on_recorded)
    return view


async def add(
    store: Store,
    ident: str,
    request: TaskCreate,
    *,
    by: str,
    via: str,
    on_recorded: TimelineHook | None = None,
    redactor: Redactor = DEFAULT,
) -> TaskView:
    """`create`, then `on_recorded` of the `task.created` entry."""
    view = await asyncio.to_thread(create, store, ident, request, by=by, via=via, redactor=redactor)
    await _announce(store, view.id, "task.created", on_recorded)
    return view


def recorded(store: Store, task_id: int, kind: str) -> TimelineEntry | None:
    """The task's `kind` entry as the timeline holds it."""
    with store.session() as session:
        incident_id = session.scalar(
            select(IncidentTask.incident_id).where(IncidentTask.id == task_id)
        )
        if incident_id is None:
            return None
        row = session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.event_key == f"{incident_id}:{kind}:{task_id}"
            )
        ).first()
        if row is None:
            return None
        return TimelineEntry(
            incident_id=row.incident_id,
            kind=row.kind,
            message=row.message,
            actor=row.actor,
            step=row.step,
            data=dict(row.data or {}),
            event_key=row.event_key or f"{incident_id}:{kind}:{task_id}",
        )


async def _announce(store: Store, task_id: int, kind: str, hook: TimelineHook | None) -> None:
    if hook is None:
        return
    entry = await asyncio.to_thread(recorded, store, task_id, kind)
    if entry is not None:
        await hook(entry)


async def tell_playbook(temporal: Temporal, workflow_id: str, done: TaskDone) -> bool:
    """Signal the run waiting for the task; False when there is none to tell."""
    try:
        client = await temporal()
        await client.get_workflow_handle(workflow_id).signal(SIGNAL_TASK_DONE, done)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            log.warning("task %d done, but its playbook was not told: %s", done.task_id, exc)
        return False
    return True


# -- a playbook's tasks (the activities' side) -----------------------------------------------


def _record(task: IncidentTask) -> TaskRecord:
    return TaskRecord(
        id=task.id,
        state=TaskState(task.state),
        completed_by=task.completed_by,
        completed_at=task.completed_at,
        note=task.completion_note or "",
    )


def open_for_playbook(store: Store, request: TaskOpen) -> tuple[TaskRecord, bool]:
    """Make a playbook's task once (by its business key); returns the row as it stands,
    and whether this call made it."""
    try:
        with store.transaction() as session:
            existing = session.scalars(
                select(IncidentTask).where(IncidentTask.task_key == request.task_key)
            ).first()
            if existing is not None:
                return _record(existing), False
            incident = session.get(Incident, request.incident_id)
            if incident is None:
                raise TaskNotFound(f"no incident {request.incident_id}")
            task = IncidentTask(
                incident_id=incident.id,
                title=request.title,
                owner=request.owner,
                due_at=request.due_at,
                state=TaskState.OPEN.value,
                created_by=request.created_by,
                via="playbook",
                created_at=utcnow(),
                workflow_id=request.workflow_id,
                task_key=request.task_key,
            )
            session.add(task)
            session.flush()
            _created(session, task, _ref(incident))
            return _record(task), True
    except IntegrityError:
        # A concurrent attempt of the same activity made it first.
        with store.session() as session:
            made = session.scalars(
                select(IncidentTask).where(IncidentTask.task_key == request.task_key)
            ).one()
            return _record(made), False


def expire_for_playbook(store: Store, request: TaskExpire) -> TaskRecord:
    """Cancel a playbook's task whose wait timed out, unless someone finished it first."""
    with store.transaction() as session:
        task = session.get(IncidentTask, request.task_id, with_for_update=True)
        if task is None:
            raise TaskNotFound(f"no task {request.task_id}")
        if task.state == TaskState.OPEN.value:
            task.state = TaskState.CANCELLED.value
            task.completed_at = utcnow()
            task.completion_note = request.reason
            _timeline(
                session,
                task,
                "task.cancelled",
                f"Task {task.id} cancelled: {request.reason}",
                request.actor,
                {"title": task.title},
            )
        return _record(task)
