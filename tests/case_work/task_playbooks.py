"""Playbooks that give people tasks, for the task tests."""

from __future__ import annotations

from datetime import timedelta

from smokejumper.sdk import Fallback, IncidentStart, Playbook, playbook


@playbook
class WaitsForTask(Playbook):
    name = "test-waits-for-task"

    async def respond(self, incident: IncidentStart) -> None:
        result = await self.task(
            "Rotate the leaked key by hand", owner="alice", due=timedelta(hours=1)
        )
        await self.record(
            "test.task_result",
            f"{result.outcome} by {result.completed_by}: {result.note}",
        )


@playbook
class TaskTimesOut(Playbook):
    name = "test-task-times-out"

    async def respond(self, incident: IncidentStart) -> None:
        result = await self.task(
            "Call the vendor",
            escalate_after=timedelta(minutes=30),
            escalate_to=["dana"],
            timeout=timedelta(hours=2),
            on_timeout=Fallback.PROCEED,
        )
        await self.record("test.task_result", f"{result.outcome}, fallback {result.fallback}")


@playbook
class TaskAborts(Playbook):
    name = "test-task-aborts"

    async def respond(self, incident: IncidentStart) -> None:
        await self.task("Confirm with legal", timeout=timedelta(hours=1), on_timeout=Fallback.ABORT)
        await self.record("test.task_result", "went on")


@playbook
class TwoTasks(Playbook):
    """Waits for one task, then another: each done from a different surface."""

    name = "test-two-tasks"

    async def respond(self, incident: IncidentStart) -> None:
        for title in ("Rotate the leaked key by hand", "Tell the vendor"):
            result = await self.task(title, owner="alice")
            await self.record(
                "test.task_result", f"{title}: {result.outcome} by {result.completed_by}"
            )
