"""Tasks a playbook gives people: `await self.task(...)` puts a work item on the incident
and, like an approval, can wait durably until someone marks it done, with an escalation
and a timeout whose fallback is declared."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from smokejumper.contracts.tasks import EXPIRE_TASK, OPEN_TASK
from smokejumper.domain.tasks import (
    KEY_MAX,
    TaskDone,
    TaskExpire,
    TaskOpen,
    TaskRecord,
    TaskResult,
    TaskState,
)
from smokejumper.sdk.approvals import Fallback
from smokejumper.sdk.attempts import PlaybookAborted
from smokejumper.sdk.lifecycle import Lifecycle


class Tasks(Lifecycle):
    """`task` and the `task-done` signal."""

    async def task(
        self,
        title: str,
        *,
        key: str | None = None,
        owner: str | None = None,
        due: timedelta | None = None,
        wait: bool = True,
        escalate_after: timedelta | None = None,
        escalate_to: list[str] | None = None,
        timeout: timedelta | None = None,
        on_timeout: Fallback | None = None,
    ) -> TaskResult:
        """Put a task for people on the incident (`owner`, due in `due`) and, with `wait`,
        wait durably until someone marks it done (console, Slack, CLI or API).

        `key` names it in this run (default: the title); it is made once per incident and
        key. After `escalate_after` without it done, `escalate_to` (people or
        `group:<name>`) are told; at `timeout` the declared `on_timeout` applies: proceed
        or skip return a timed-out result, abort raises PlaybookAborted (undoing completed
        steps). The task is then cancelled, unless it was done meanwhile.
        """
        name = (key or title)[:KEY_MAX]
        _check(name, wait, escalate_after, escalate_to, timeout, on_timeout)
        if name in self._task_keys:
            raise ValueError(f"task {name!r} was already given in this run")
        self._task_keys.append(name)
        now = workflow.now()
        requested_by = f"playbook:{workflow.info().workflow_type}"
        record: TaskRecord = await self._bookkeep(
            OPEN_TASK,
            TaskOpen(
                incident_id=self.incident.incident_id,
                key=name,
                title=title,
                owner=owner,
                due_at=now + due if due is not None else None,
                created_by=requested_by,
                workflow_id=workflow.info().workflow_id,
            ),
        )
        if record.state is not TaskState.OPEN or not wait:
            return _result(record, name, title)
        if escalate_after is not None and not await self._task_done_within(name, escalate_after):
            who = ", ".join(escalate_to or [])
            await self.record(
                "task.escalated",
                f"Task {record.id} ({title}) not done after {escalate_after}; telling {who}",
                data={"task": record.id, "escalate_to": who},
            )
        remaining = None if timeout is None else now + timeout - workflow.now()
        if await self._task_done_within(name, remaining):
            done = self._tasks_done[name]
            return TaskResult(
                task_id=record.id,
                key=name,
                title=title,
                outcome="done",
                done=True,
                completed_by=done.actor,
                note=done.note,
                at=done.at,
            )
        assert on_timeout is not None  # _check: a timeout declares its fallback
        expired: TaskRecord = await self._bookkeep(
            EXPIRE_TASK,
            TaskExpire(
                task_id=record.id,
                actor=requested_by,
                reason=f"not done within {timeout}; fallback {on_timeout.value}",
            ),
        )
        if expired.state is TaskState.DONE:
            # Done just before the wait ran out; the signal saying so was still on its way.
            return _result(expired, name, title)
        await self.record(
            "task.timed_out",
            f"Task {record.id} ({title}) not done within {timeout}; fallback {on_timeout.value}",
            data={"task": record.id, "fallback": on_timeout.value},
        )
        if on_timeout is Fallback.ABORT:
            raise PlaybookAborted(f"task {name} was not done within {timeout}")
        return TaskResult(
            task_id=record.id,
            key=name,
            title=title,
            outcome="timed_out",
            done=False,
            at=workflow.now(),
            fallback=on_timeout.value,
        )

    async def _task_done_within(self, key: str, limit: timedelta | None) -> bool:
        if key in self._tasks_done:
            return True
        if limit is not None and limit <= timedelta(0):
            return False
        try:
            await workflow.wait_condition(lambda: key in self._tasks_done, timeout=limit)
        except TimeoutError:
            return False
        return True

    def _task_done(self, done: TaskDone) -> None:
        # The store decides who completed it (a task is done once); a repeat is ignored.
        self._tasks_done.setdefault(done.key, done)


def _check(
    key: str,
    wait: bool,
    escalate_after: timedelta | None,
    escalate_to: list[str] | None,
    timeout: timedelta | None,
    on_timeout: Fallback | None,
) -> None:
    if not key.strip():
        raise ValueError("a task needs a title")
    if not wait and (escalate_after is not None or timeout is not None):
        raise ValueError(f"task {key!r}: escalate_after and timeout need wait=True")
    if timeout is not None and on_timeout is None:
        raise ValueError(f"task {key!r}: a task with a timeout must declare on_timeout")
    if on_timeout is not None and timeout is None:
        raise ValueError(f"task {key!r}: on_timeout needs a timeout")
    if (escalate_after is None) != (not escalate_to):
        raise ValueError(f"task {key!r}: escalate_after and escalate_to go together")
    if escalate_after is not None and escalate_after <= timedelta(0):
        raise ValueError(f"task {key!r}: escalate_after must be positive")
    if timeout is not None and timeout <= timedelta(0):
        raise ValueError(f"task {key!r}: timeout must be positive")
    if timeout is not None and escalate_after is not None and escalate_after >= timeout:
        raise ValueError(f"task {key!r}: the escalation must come before the timeout")


def _result(record: TaskRecord, key: str, title: str) -> TaskResult:
    done = record.state is TaskState.DONE
    return TaskResult(
        task_id=record.id,
        key=key,
        title=title,
        outcome="done" if done else "open" if record.state is TaskState.OPEN else "timed_out",
        done=done,
        completed_by=record.completed_by,
        note=record.note,
        at=record.completed_at if done and record.completed_at else workflow.now(),
    )
