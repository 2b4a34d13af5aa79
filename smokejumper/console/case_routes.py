"""The console's case work: commander, assignees, tags, links, merges, notes and tasks.

Every form is a responder's (viewers read the panels) and carries the CSRF token; each
write goes through the same service the API, Slack and the CLI use, as `via="console"`.
A refusal comes back as the page with a message naming what was wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Path
from fastapi.responses import Response
from pydantic import ValidationError

from smokejumper.api.case_work import end_playbook
from smokejumper.api.tasks import timeline_hook
from smokejumper.console.context import Form as CheckedForm
from smokejumper.console.context import Visit
from smokejumper.domain.text import StorableText
from smokejumper.incidents import case_work, tasks
from smokejumper.incidents.case_work import CaseConflict, CaseInvalid, CaseNotFound, LinkKind
from smokejumper.incidents.tasks import TaskCreate, TaskNotFound, TaskRefused
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.security.users import Role

router = APIRouter(include_in_schema=False)

IncidentRef = Annotated[str, Path(max_length=120)]
Name = Annotated[StorableText, Form(max_length=200)]
_REFUSALS = (CaseInvalid, CaseNotFound, CaseConflict, TaskNotFound, TaskRefused)
T = TypeVar("T")


async def _write(page: Visit, ref: str, what: str, done: str, call: Callable[[str], T]) -> Response:
    """Run one write as the signed-in responder; back to the incident, saying how it went."""
    who = page.require(Role.RESPONDER, what)
    try:
        await asyncio.to_thread(call, who.name)
    except _REFUSALS as exc:
        return page.redirect(f"/incidents/{ref}", flash=f"Refused: {exc}")
    return page.redirect(f"/incidents/{ref}", flash=done)


@router.post("/incidents/{ref}/commander")
async def commander(page: CheckedForm, ref: IncidentRef, user: Name = "") -> Response:
    name = user.strip() or None
    return await _write(
        page,
        ref,
        "naming the commander",
        f"Commander: {name or 'none'}.",
        lambda by: case_work.set_commander(
            page.state.store, page.state.settings, ref, name, by=by, via="console"
        ),
    )


@router.post("/incidents/{ref}/assignees")
async def assign(page: CheckedForm, ref: IncidentRef, user: Name) -> Response:
    return await _write(
        page,
        ref,
        "assigning responders",
        f"{user.strip()} assigned.",
        lambda by: case_work.add_assignee(
            page.state.store, page.state.settings, ref, user, by=by, via="console"
        ),
    )


@router.post("/incidents/{ref}/assignees/remove")
async def unassign(page: CheckedForm, ref: IncidentRef, user: Name) -> Response:
    return await _write(
        page,
        ref,
        "assigning responders",
        f"{user} unassigned.",
        lambda by: case_work.remove_assignee(page.state.store, ref, user, by=by, via="console"),
    )


@router.post("/incidents/{ref}/tags")
async def tag(
    page: CheckedForm, ref: IncidentRef, tag: Annotated[StorableText, Form(max_length=64)]
) -> Response:
    return await _write(
        page,
        ref,
        "tagging incidents",
        f"Tag {tag.strip().lower()} added.",
        lambda by: case_work.add_tag(page.state.store, ref, tag, by=by, via="console"),
    )


@router.post("/incidents/{ref}/tags/remove")
async def untag(
    page: CheckedForm, ref: IncidentRef, tag: Annotated[StorableText, Form(max_length=64)]
) -> Response:
    return await _write(
        page,
        ref,
        "tagging incidents",
        f"Tag {tag} removed.",
        lambda by: case_work.remove_tag(page.state.store, ref, tag, by=by, via="console"),
    )


@router.post("/incidents/{ref}/links")
async def link(
    page: CheckedForm,
    ref: IncidentRef,
    incident: Annotated[StorableText, Form(max_length=120)],
    kind: Annotated[LinkKind, Form()] = "related",
) -> Response:
    other = incident.strip()
    return await _write(
        page,
        ref,
        "linking incidents",
        f"Linked to {other} ({kind.replace('_', ' ')}).",
        lambda by: case_work.link(page.state.store, ref, other, kind, by=by, via="console"),
    )


@router.post("/incidents/{ref}/merge")
async def merge(
    page: CheckedForm, ref: IncidentRef, into: Annotated[StorableText, Form(max_length=120)]
) -> Response:
    who = page.require(Role.RESPONDER, "merging incidents")
    target = into.strip()
    try:
        merged = await asyncio.to_thread(
            case_work.merge, page.state.store, ref, target, by=who.name, via="console"
        )
    except _REFUSALS as exc:
        return page.redirect(f"/incidents/{ref}", flash=f"Refused: {exc}")
    await end_playbook(page.state, merged, who.name)
    return page.redirect(
        f"/incidents/{merged.into}",
        flash=f"{merged.merged} merged into {merged.into}: {merged.alerts_moved} alert(s), "
        f"{merged.notes_moved} note(s), {merged.tasks_moved} task(s) moved.",
    )


@router.post("/incidents/{ref}/notes")
async def note(
    page: CheckedForm,
    ref: IncidentRef,
    text: Annotated[StorableText, Form(max_length=case_work.NOTE_MAX)],
) -> Response:
    redactor = await asyncio.to_thread(redactor_for, page.state.store, page.state.settings)
    return await _write(
        page,
        ref,
        "adding notes",
        "Note added.",
        lambda by: case_work.add_note(
            page.state.store, ref, text, author=by, via="console", redactor=redactor
        ),
    )


@router.post("/incidents/{ref}/tasks")
async def add_task(
    page: CheckedForm,
    ref: IncidentRef,
    title: Annotated[StorableText, Form(max_length=1000)],
    owner: Name = "",
    due_minutes: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    who = page.require(Role.RESPONDER, "adding tasks")
    try:
        request = TaskCreate(
            title=title.strip(),
            owner=owner.strip() or None,
            due_minutes=_minutes(due_minutes),
        )
    except (ValidationError, ValueError) as exc:
        return page.redirect(f"/incidents/{ref}", flash=f"Refused: {_first_error(exc)}")
    try:
        await tasks.add(
            page.state.store,
            ref,
            request,
            by=who.name,
            via="console",
            on_recorded=timeline_hook(page.request),
        )
    except _REFUSALS as exc:
        return page.redirect(f"/incidents/{ref}", flash=f"Refused: {exc}")
    return page.redirect(f"/incidents/{ref}", flash="Task added.")


@router.post("/incidents/{ref}/tasks/{task_id}/complete")
async def complete_task(
    page: CheckedForm,
    ref: IncidentRef,
    task_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    note: Annotated[StorableText, Form(max_length=2000)] = "",
) -> Response:
    who = page.require(Role.RESPONDER, "completing tasks")
    try:
        await tasks.complete(
            page.state.store,
            page.state.temporal,
            ref,
            task_id,
            note.strip() or None,
            by=who.name,
            via="console",
            on_recorded=timeline_hook(page.request),
        )
    except _REFUSALS as exc:
        return page.redirect(f"/incidents/{ref}", flash=f"Refused: {exc}")
    return page.redirect(f"/incidents/{ref}", flash=f"Task {task_id} done.")


def _minutes(value: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError("due_minutes: a whole number of minutes") from None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error: dict[str, Any] = dict(exc.errors()[0])
        where = ".".join(str(part) for part in error.get("loc", ()))
        return f"{where}: {error.get('msg', 'invalid')}"
    return str(exc)
