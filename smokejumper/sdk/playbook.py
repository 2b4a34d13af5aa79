"""The playbook base class: authors write steps; this class does the Temporal work.

A playbook is a class with metadata and one `respond` method:

    @playbook
    class ContainLeak(Playbook):
        name = "contain-leak"
        triggers = [Route(playbook="contain-leak", kinds=(AlertKind.DATA_LEAKAGE,))]

        async def respond(self, incident: IncidentStart) -> None:
            await self.step("revoke key", REVOKE_KEY, KeyAction(...))  # undo: RESTORE_KEY
            decision = await self.approve("isolate", question="Isolate the endpoint?",
                                          approvers=["group:sec-oncall"],
                                          timeout=timedelta(hours=4), fallback=Fallback.ABORT)
            if decision.approved:
                await self.step("isolate endpoint", ISOLATE_ENDPOINT, EndpointAction(...))

It runs as a Temporal workflow (id `incident-<fingerprint>-<number>`): every alert of the incident
arrives as a signal, approvals arrive as updates (or signals) checked before anything is
written to history, the state is a query, and closing is an update — none of which the
author writes.

The runtime under `Playbook` is a chain of classes, one concern each, every one building on
the one before:

    run_state.RunState              state, metadata, timeline/audit/status/severity writes
    child_approvals.ChildApprovals  a child's approvals announced to, and answered at, its parent
    approval_engine.Approvals       `approve`, escalation, timeout and the decide handlers
    clock_runner.Clocks             regulatory clocks: reminders, breach, filing
    handoffs.Steps                  `step` and `missing`; failed steps handed to people
    lifecycle.Lifecycle             `respond` run, undone, closed, aborted, restored
    task_runner.Tasks               tasks for people, waited for like approvals
    playbook.Playbook               the rest authors call: notify, wait, parallel, child

`decorator.playbook` turns a subclass into the Temporal workflow with its handlers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from temporalio import workflow

from smokejumper.contracts.bookkeeping import NOTIFY
from smokejumper.contracts.case_work import ASSIGN_RESPONDERS, Assigned, AssignRequest
from smokejumper.domain.incidents import IncidentState, Notification
from smokejumper.sdk.attempts import OnFailure, PlaybookAborted
from smokejumper.sdk.decorator import playbook
from smokejumper.sdk.patches import HANDOFF_PATCH
from smokejumper.sdk.task_runner import Tasks
from smokejumper.temporal.priority import task_priority

__all__ = ["OnFailure", "Playbook", "PlaybookAborted", "playbook"]


class Playbook(Tasks):
    """Base class of every playbook. Subclasses set the metadata and write `respond`."""

    async def notify(self, message: str, to: list[str] | None = None) -> list[str]:
        """Tell responders (people or `group:<name>`); returns who was notified."""
        return await NOTIFY.execute(
            Notification(
                incident_id=self.incident.incident_id,
                ref=self.incident.ref,
                message=message,
                to=to or [],
                sender=f"playbook:{workflow.info().workflow_type}",
                event_key=self._event_key("notification"),
            ),
            priority=task_priority(self.incident_severity),
        )

    async def assign(
        self, *, commander: str | None = None, assignees: list[str] | None = None
    ) -> Assigned:
        """Name the incident's commander and add assignees: people, or `group:<name>`
        (as commander, the group's on-call: its first member listed; as assignees, all)."""
        return await self._bookkeep(
            ASSIGN_RESPONDERS,
            AssignRequest(
                incident_id=self.incident.incident_id,
                commander=commander,
                assignees=assignees or [],
                actor=f"playbook:{workflow.info().workflow_type}",
            ),
        )

    async def wait(self, duration: timedelta) -> None:
        """A durable pause (a Temporal timer)."""
        await workflow.sleep(duration)

    async def parallel(self, *steps: Awaitable[Any]) -> list[Any]:
        """Run steps concurrently; all must succeed."""
        return list(await asyncio.gather(*steps))

    async def child(self, playbook_name: str, *, suffix: str) -> IncidentState:
        """Run another playbook for this incident as a child workflow."""
        result: IncidentState = await workflow.execute_child_workflow(
            playbook_name,
            self.incident.model_copy(update={"playbook": playbook_name}),
            id=f"{workflow.info().workflow_id}-{suffix}",
            result_type=IncidentState,
        )
        if workflow.patched(HANDOFF_PATCH):
            # The child's response is part of this one: what it left missing is missing here.
            self._missing.update({f"{playbook_name}: {s}": w for s, w in result.missing.items()})
            self._skipped.update({f"{playbook_name}: {s}": w for s, w in result.skipped.items()})
        return result
