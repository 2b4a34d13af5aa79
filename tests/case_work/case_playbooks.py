"""A playbook that names its incident's commander and assignees, for the case tests."""

from __future__ import annotations

from smokejumper.sdk import IncidentStart, Playbook, playbook


@playbook
class AssignsOnCall(Playbook):
    name = "test-assigns-on-call"

    async def respond(self, incident: IncidentStart) -> None:
        done = await self.assign(commander="group:oncall", assignees=["group:leads", "mallory"])
        await self.record(
            "test.assigned",
            f"{done.commander}; {', '.join(done.assignees)}; skipped {', '.join(done.skipped)}",
        )
