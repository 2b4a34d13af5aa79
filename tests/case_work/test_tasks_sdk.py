"""`await self.task(...)`: a playbook gives people a task and waits for it durably.

Completed through the service every surface calls (the API, the console, Slack, the CLI)
on the dev server; escalation, timeout and its fallbacks on the time-skipping server.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from smokejumper.config import load_settings
from smokejumper.domain.tasks import TaskState
from smokejumper.incidents import tasks
from smokejumper.store.db import Store
from smokejumper.store.tables import TimelineEvent
from tests.case_work.task_playbooks import TaskAborts, TaskTimesOut, WaitsForTask
from tests.helpers import eventually, insert_incident, start_playbook
from workers.worker import activities_for, sandboxed_runner

PLAYBOOKS = [WaitsForTask, TaskTimesOut, TaskAborts]


def _events(store: Store, incident_id: int) -> list[tuple[str, str]]:
    with store.session() as session:
        return [
            (e.kind, e.message)
            for e in session.query(TimelineEvent)
            .filter(TimelineEvent.incident_id == incident_id)
            .order_by(TimelineEvent.id)
        ]


def _temporal(client: Client) -> Callable[[], Coroutine[Any, Any, Client]]:
    async def temporal() -> Client:
        return client

    return temporal


async def test_completing_a_playbooks_task_lets_it_go_on(
    temporal_env: WorkflowEnvironment, sqlite_store: Store
) -> None:
    store, queue = sqlite_store, f"tq-{uuid.uuid4().hex[:8]}"
    incident = insert_incident(store, playbook=WaitsForTask.name, fingerprint=uuid.uuid4().hex)
    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=PLAYBOOKS,
        activities=activities_for(store, load_settings()),
        workflow_runner=sandboxed_runner(),
    ):
        await start_playbook(temporal_env.client, WaitsForTask.name, incident, queue)

        async def made() -> list[tasks.TaskView]:
            return tasks.tasks_of(store, incident.ref)

        [task] = await eventually(made)
        assert (task.title, task.owner, task.state, task.via, task.playbook) == (
            "Rotate the leaked key by hand",
            "alice",
            TaskState.OPEN,
            "playbook",
            True,
        )
        assert task.due_at is not None
        done = await tasks.complete(
            store,
            _temporal(temporal_env.client),
            incident.ref,
            task.id,
            "rotated",
            by="alice",
            via="api",
        )
        assert (done.state, done.completed_by, done.note) == (TaskState.DONE, "alice", "rotated")

        async def went_on() -> list[str]:
            return [m for k, m in _events(store, incident.incident_id) if k == "test.task_result"]

        assert await eventually(went_on) == ["done by alice: rotated"]
        kinds = [k for k, _ in _events(store, incident.incident_id)]
        assert kinds.index("task.created") < kinds.index("task.completed")
        with pytest.raises(tasks.TaskRefused, match="already done by alice"):
            await tasks.complete(
                store,
                _temporal(temporal_env.client),
                incident.ref,
                task.id,
                None,
                by="bob",
                via="cli",
            )


async def _run(
    env: WorkflowEnvironment, store: Store, playbook: str, skip: timedelta
) -> tuple[int, list[tuple[str, str]]]:
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    incident = insert_incident(store, playbook=playbook, fingerprint=uuid.uuid4().hex)
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=PLAYBOOKS,
        activities=activities_for(store, load_settings()),
        workflow_runner=sandboxed_runner(),
    ):
        await start_playbook(env.client, playbook, incident, queue)

        async def made() -> list[tasks.TaskView]:
            return tasks.tasks_of(store, incident.ref)

        await eventually(made)
        await env.sleep(skip)

        async def finished() -> list[tuple[str, str]] | None:
            events = _events(store, incident.incident_id)
            ends = {"test.task_result", "playbook.aborted"}
            return events if any(kind in ends for kind, _ in events) else None

        return incident.incident_id, await eventually(finished)


async def test_an_unfinished_task_escalates_then_times_out_with_its_fallback(
    time_skipping_env: WorkflowEnvironment, sqlite_store: Store
) -> None:
    incident_id, events = await _run(
        time_skipping_env, sqlite_store, TaskTimesOut.name, timedelta(hours=3)
    )
    kinds = [kind for kind, _ in events]
    assert kinds.index("task.escalated") < kinds.index("task.timed_out")
    escalated = next(m for k, m in events if k == "task.escalated")
    assert "dana" in escalated
    assert ("test.task_result", "timed_out, fallback proceed") in events
    [task] = tasks.tasks_of(sqlite_store, str(incident_id))
    assert task.state is TaskState.CANCELLED


async def test_a_task_that_times_out_with_abort_aborts_the_playbook(
    time_skipping_env: WorkflowEnvironment, sqlite_store: Store
) -> None:
    _, events = await _run(time_skipping_env, sqlite_store, TaskAborts.name, timedelta(hours=2))
    kinds = [kind for kind, _ in events]
    assert "playbook.aborted" in kinds
    assert "test.task_result" not in kinds


def test_a_task_declares_what_a_timeout_does() -> None:
    from smokejumper.sdk.task_runner import _check

    with pytest.raises(ValueError, match="must declare on_timeout"):
        _check("k", True, None, None, timedelta(hours=1), None)
    with pytest.raises(ValueError, match="escalation must come before the timeout"):
        _check("k", True, timedelta(hours=2), ["dana"], timedelta(hours=1), None or _fallback())
    with pytest.raises(ValueError, match="need wait=True"):
        _check("k", False, None, None, timedelta(hours=1), _fallback())


def _fallback() -> Any:
    from smokejumper.sdk import Fallback

    return Fallback.SKIP
