"""A playbook's tasks in the store: made once per key, cancelled when the wait times out.

The `task.created` entry goes to the timeline hook too (Slack's relay, when configured), so
the task's message with its "Mark done" button is posted in the incident's channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from temporalio.exceptions import ApplicationError

from smokejumper.contracts.tasks import EXPIRE_TASK, OPEN_TASK
from smokejumper.domain.incidents import TimelineEntry
from smokejumper.domain.tasks import TaskExpire, TaskOpen, TaskRecord
from smokejumper.incidents import tasks
from smokejumper.store.db import Store


class TaskActivities:
    def __init__(
        self,
        store: Store,
        on_recorded: Callable[[TimelineEntry], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.on_recorded = on_recorded

    @OPEN_TASK.implementation
    async def open_task(self, request: TaskOpen) -> TaskRecord:
        try:
            record, _ = await asyncio.to_thread(tasks.open_for_playbook, self.store, request)
        except tasks.TaskNotFound as exc:
            raise ApplicationError(str(exc), non_retryable=True) from None
        if self.on_recorded is not None:
            # Also on a retry: a hook that failed gets another go (the relay drops repeats).
            await self.on_recorded(
                TimelineEntry(
                    incident_id=request.incident_id,
                    kind="task.created",
                    message=request.title,
                    actor=request.created_by,
                    data={"task": record.id, "owner": request.owner},
                    event_key=f"{request.incident_id}:task.created:{record.id}",
                )
            )
        return record

    @EXPIRE_TASK.implementation
    async def expire_task(self, request: TaskExpire) -> TaskRecord:
        try:
            return await asyncio.to_thread(tasks.expire_for_playbook, self.store, request)
        except tasks.TaskNotFound as exc:
            raise ApplicationError(str(exc), non_retryable=True) from None
