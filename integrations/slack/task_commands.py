"""Tasks from Slack: `/smokejumper task`, `/smokejumper done` and the "Mark done" button
on a task's message.

Only a Slack user linked to a responder (`slack.users`) adds or completes a task; it is
recorded as that responder, `via` slack, through the same service as the API and the
console, so a playbook waiting on the task goes on. What was written is handed to the
incident's Slack relay, which posts the task's message or marks it done in place.
"""

from __future__ import annotations

from integrations.slack.case_commands import NOT_LINKED, Said
from smokejumper.config import Settings
from smokejumper.incidents import tasks
from smokejumper.incidents.tasks import (
    TaskCreate,
    TaskNotFound,
    TaskRefused,
    Temporal,
    TimelineHook,
)
from smokejumper.store.db import Store
from smokejumper.store.tables import ROW_ID_MAX

TASK_USAGE = "`task INCIDENT title`"
DONE_USAGE = "`done INCIDENT TASK_ID [note]`"
BUTTON_PREFIX = "task:"


def _refused(user: str) -> Said:
    return Said(f"{NOT_LINKED} An operator can add `slack.users.{user}`.")


async def add(
    store: Store, settings: Settings, feed: TimelineHook | None, user: str, typed: str
) -> Said:
    """`typed` is what follows `task` as typed: the incident, then the title."""
    responder = settings.slack.users.get(user)
    if responder is None:
        return _refused(user)
    parts = typed.split(None, 1)
    if len(parts) < 2:
        return Said(f"Usage: {TASK_USAGE}")
    ref, title = parts[0], parts[1].strip()
    try:
        request = TaskCreate(title=title)
    except ValueError as exc:
        return Said(f"Not added: the title {_problem(exc)}.")
    try:
        view = await tasks.add(store, ref, request, by=responder, via="slack", on_recorded=feed)
    except TaskNotFound:
        return Said(f"There is no incident {ref}.")
    return Said(f"Task {view.id} added to {view.incident} by {responder}: {view.title}", True)


def task_id_of(word: str) -> int | None:
    """A task id as typed (`3`) or as a button carries it (`task:3`)."""
    word = word.removeprefix(BUTTON_PREFIX)
    if not word.isascii() or not word.isdigit():
        return None
    number = int(word)
    return number if 1 <= number <= ROW_ID_MAX else None


async def complete(
    store: Store,
    settings: Settings,
    temporal: Temporal,
    feed: TimelineHook | None,
    user: str,
    ref: str,
    task: str,
    note: str | None = None,
) -> Said:
    """Mark the task done as the responder `user` is linked to."""
    responder = settings.slack.users.get(user)
    if responder is None:
        return _refused(user)
    task_id = task_id_of(task)
    if task_id is None:
        return Said(f"{task!r} is not a task id. Usage: {DONE_USAGE}")
    try:
        request = tasks.TaskComplete(note=note or None)
    except ValueError as exc:
        return Said(f"Not done: the note {_problem(exc)}.")
    try:
        view = await tasks.complete(
            store,
            temporal,
            ref,
            task_id,
            request.note,
            by=responder,
            via="slack",
            on_recorded=feed,
        )
    except TaskNotFound as exc:
        return Said(f"Not done: {exc}.")
    except TaskRefused as exc:
        return Said(f"Not done: {exc}.")
    return Said(f"Task {view.id} of {view.incident} done, as {responder} recorded.", True)


async def done_command(
    store: Store,
    settings: Settings,
    temporal: Temporal,
    feed: TimelineHook | None,
    user: str,
    typed: str,
) -> Said:
    """`typed` is what follows `done` as typed: the incident, the task id, a note."""
    parts = typed.split(None, 2)
    if len(parts) < 2:
        return Said(f"Usage: {DONE_USAGE}")
    note = parts[2].strip() if len(parts) == 3 else None
    return await complete(store, settings, temporal, feed, user, parts[0], parts[1], note)


def _problem(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        found = errors(include_input=False, include_url=False)
        if found:
            return str(found[0]["msg"]).lower()
    return "is not accepted"
