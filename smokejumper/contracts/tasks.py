"""The engine's task writes a playbook makes through `self.task(...)`: making the row once,
and cancelling it when the wait for it times out."""

from __future__ import annotations

from smokejumper.contracts.base import STORE, Contract, Rehearsal
from smokejumper.domain.tasks import TaskExpire, TaskOpen, TaskRecord, TaskState

# A dry run's tasks: numbered from this, so they never look like a stored row.
_REHEARSED_ID = 1


def _rehearsed_open(_: TaskOpen, __: Rehearsal) -> TaskRecord:
    return TaskRecord(id=_REHEARSED_ID, state=TaskState.OPEN)


def _rehearsed_expire(expire: TaskExpire, _: Rehearsal) -> TaskRecord:
    return TaskRecord(id=expire.task_id, state=TaskState.CANCELLED)


OPEN_TASK = Contract(
    "open_task",
    TaskOpen,
    TaskRecord,
    retry=STORE,
    rehearse=_rehearsed_open,
    description="Make a playbook's task on the incident (once per key), with its timeline "
    "entry; returns the row as it stands.",
)
EXPIRE_TASK = Contract(
    "expire_task",
    TaskExpire,
    TaskRecord,
    retry=STORE,
    rehearse=_rehearsed_expire,
    description="Cancel a playbook's task whose wait timed out, unless it was done first; "
    "returns the row as it stands.",
)
