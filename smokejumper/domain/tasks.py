"""Tasks: human work items on an incident, and the messages a playbook that waits for one
exchanges with the engine."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Sent to the workflow that made a task when someone completes it (the console, Slack, the
# CLI, the API), so a playbook waiting on it goes on.
SIGNAL_TASK_DONE = "task-done"

TITLE_MAX = 300
NOTE_MAX = 2000
OWNER_MAX = 200
KEY_MAX = 100


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskOpen(BaseModel):
    """A playbook's task, made once: `task_key` (incident:task:<key>) finds the row again
    when the activity is retried."""

    model_config = ConfigDict(frozen=True)

    incident_id: int
    key: str = Field(min_length=1, max_length=KEY_MAX)
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    owner: str | None = Field(default=None, max_length=OWNER_MAX)
    due_at: datetime | None = None
    created_by: str
    workflow_id: str

    @property
    def task_key(self) -> str:
        return f"{self.incident_id}:task:{self.key}"


class TaskExpire(BaseModel):
    """A playbook's task whose wait timed out: cancelled, unless someone finished it
    first (then it stays done, and the playbook takes that)."""

    model_config = ConfigDict(frozen=True)

    task_id: int
    actor: str
    reason: str


class TaskRecord(BaseModel):
    """A task as stored, as the activities return it to the playbook."""

    id: int
    state: TaskState
    completed_by: str | None = None
    completed_at: datetime | None = None
    note: str = ""


class TaskDone(BaseModel):
    """Someone completed a playbook's task: what the workflow is told."""

    model_config = ConfigDict(frozen=True)

    task_id: int
    key: str
    actor: str
    note: str = ""
    via: str
    at: datetime


class TaskResult(BaseModel):
    """What `await self.task(...)` returns to the playbook."""

    task_id: int
    key: str
    title: str
    outcome: Literal["open", "done", "timed_out"]
    # True when someone completed it; False while open (`wait=False`) or after a timeout.
    done: bool
    completed_by: str | None = None
    note: str = ""
    at: datetime
    # The `on_timeout` that applied, when it timed out.
    fallback: str | None = None
