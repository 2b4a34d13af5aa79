"""The state of a playbook's run and the engine's own writes (timeline, audit, status,
severity): the root every part of the playbook runtime builds on."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from temporalio import workflow

from smokejumper.contracts.base import Contract
from smokejumper.contracts.bookkeeping import (
    RECORD_AUDIT,
    RECORD_TIMELINE_EVENT,
    SET_INCIDENT_SEVERITY,
    SET_INCIDENT_STATUS,
)
from smokejumper.domain.alerts import Severity
from smokejumper.domain.incidents import (
    AuditRecord,
    CloseRequest,
    IncidentStart,
    IncidentState,
    IncidentStatus,
    SeverityChange,
    StatusChange,
    TimelineEntry,
)
from smokejumper.domain.routing import Route
from smokejumper.domain.tasks import TaskDone
from smokejumper.sdk.approvals import ChildApproval, PendingApproval
from smokejumper.sdk.attempts import Undo
from smokejumper.sdk.clocks import RunningClock
from smokejumper.sdk.patches import HANDOFF_PATCH, LOCAL_BOOKKEEPING_PATCH
from smokejumper.temporal import search_attributes
from smokejumper.temporal.priority import task_priority

A = TypeVar("A")
R = TypeVar("R")


CLOSED = "incident closed"


class RunState:
    """A playbook run's state, metadata and bookkeeping; `Playbook` is what authors subclass."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    triggers: ClassVar[list[Route]] = []
    severity: ClassVar[str] = "medium"
    owasp: ClassVar[list[str]] = []
    atlas: ClassVar[list[str]] = []
    # Who may approve `smokejumper incidents restore` for this playbook.
    restore_approvers: ClassVar[list[str]] = ["group:incident-commanders"]
    # Who is asked what to do about a failed step, and who else after HANDOFF_ESCALATE_AFTER.
    handoff_approvers: ClassVar[list[str]] = ["group:incident-commanders"]
    handoff_escalate_to: ClassVar[list[str]] = []

    def __init__(self, start: IncidentStart) -> None:
        # Set before any signal or update handler can run (the decorator applies
        # workflow.init to the subclass's constructor).
        self.incident = start
        self._status = IncidentStatus.OPEN
        self._alert_ids: set[str] = set()
        self._current_step: str | None = None
        self._steps_done: list[str] = []
        self._undo: list[Undo] = []
        self._approvals: dict[str, PendingApproval] = {}
        # Children's approvals, by (child workflow id, step), as they last announced them.
        self._child_approvals: dict[tuple[str, str], ChildApproval] = {}
        self._announced = 0
        self._told_parent = False
        self._closing = False
        self._closed_by: CloseRequest | None = None
        self._event_seq = 0
        self._next_start: IncidentStart | None = None
        self._clocks: dict[str, RunningClock] = {}
        self._abort_reason: str | None = None
        self._respond_finished = False
        # Alerts that joined after `respond` began, not yet answered (see on_later_alerts);
        # None until it begins, and for a playbook that does not answer them.
        self._later_alerts: list[str] | None = None
        self._finished_well = False
        self._severity = start.severity
        self._restoring = False
        # Set by a close under the close-ends-run rules: `respond` stops, approvals are
        # withdrawn, clocks stop, and the run ends (after a lift, when one was asked for).
        self._ending = False
        self._withdrawn: list[str] = []
        self._lift: PendingApproval | None = None
        self._lift_refused: str | None = None
        # Containment not done yet, by step (see IncidentState.missing), and skipped steps.
        self._missing: dict[str, str] = {}
        self._skipped: dict[str, str] = {}
        # Set when the playbook said `contained` with something missing: said again, truly,
        # once the last missing step is done.
        self._contained_reason: str | None = None
        self._handoffs: list[asyncio.Task[None]] = []
        # Tasks given to people (`Tasks.task`), by key, and those reported done.
        self._task_keys: list[str] = []
        self._tasks_done: dict[str, TaskDone] = {}

    async def respond(self, incident: IncidentStart) -> None:
        raise NotImplementedError(f"{type(self).__name__}.respond is not written")

    # True: alerts that join the incident after `respond` began are answered by
    # `on_later_alerts` once `respond` has finished, for as long as the incident is open.
    answers_later_alerts: ClassVar[bool] = False

    async def on_later_alerts(self, incident: IncidentStart, alert_ids: list[str]) -> None:
        """Answer alerts that joined the incident after `respond` began (`alert_ids`, in the
        order they came): a second leak of another key must not stay live behind a status
        that says contained. Called after `respond` finished, then again for each later
        group, when `answers_later_alerts` is set. Nothing by default."""

    def later_alerts_memory(self) -> dict[str, Any]:
        """What `on_later_alerts` compares later alerts with (the keys it revoked, the
        documents it quarantined), for the run that continues this one as new (after
        10,000 history events), which gets it back in `recall_later_alerts_memory`. JSON
        values only. Nothing by default."""
        return {}

    def recall_later_alerts_memory(self, memory: dict[str, Any]) -> None:
        """Take back, in a run that continued as new, what `later_alerts_memory` gave."""

    async def on_sight(self, incident: IncidentStart) -> None:
        """What cannot wait for anything else: run first, in the run's first workflow task,
        before even the start is on the timeline (a leaked key is revoked here). Override it
        with local activities only; a regular one would end the first task. Nothing by
        default."""

    async def set_status(self, status: IncidentStatus, reason: str = "") -> None:
        """Change the incident's status. `contained` is said only when it is verified:
        with containment missing it becomes `partly_contained`, naming what is
        missing, and turns `contained` once the last of it is done."""
        if status is IncidentStatus.CONTAINED and workflow.patched(HANDOFF_PATCH):
            self._contained_reason = reason
            if self._missing:
                status = IncidentStatus.PARTLY_CONTAINED
                missing = "; ".join(f"{step}: {why}" for step, why in self._missing.items())
                reason = f"not verified contained; missing: {missing}"
        await self._bookkeep(
            SET_INCIDENT_STATUS,
            StatusChange(
                incident_id=self.incident.incident_id,
                status=status,
                actor=f"playbook:{workflow.info().workflow_type}",
                reason=reason,
                event_key=self._event_key(f"status.{status.value}"),
            ),
        )
        if self._closing or self._closed_by is not None:
            return  # closed while the playbook was still at work: closed it stays
        self._status = status
        workflow.upsert_search_attributes([search_attributes.INCIDENT_STATUS.value_set(status)])

    @property
    def incident_severity(self) -> Severity:
        """The incident's severity now: the alert's, or what the playbook raised it to."""
        return Severity(self._severity)

    async def set_severity(self, severity: Severity, reason: str = "") -> None:
        """Change the incident's severity (store, timeline and the Temporal search attribute)."""
        await self._bookkeep(
            SET_INCIDENT_SEVERITY,
            SeverityChange(
                incident_id=self.incident.incident_id,
                severity=severity.value,
                actor=f"playbook:{workflow.info().workflow_type}",
                reason=reason,
                event_key=self._event_key("severity"),
            ),
        )
        self._severity = severity.value
        workflow.upsert_search_attributes([search_attributes.SEVERITY.value_set(severity.value)])

    async def record(
        self,
        kind: str,
        message: str,
        *,
        step: str | None = None,
        actor: str | None = None,
        data: dict[str, str | int | float | bool | None] | None = None,
    ) -> None:
        """Write one timeline entry (idempotent on a key derived from the run)."""
        await self._bookkeep(
            RECORD_TIMELINE_EVENT, self._entry(kind, message, step=step, actor=actor, data=data)
        )

    def _entry(
        self,
        kind: str,
        message: str,
        *,
        step: str | None = None,
        actor: str | None = None,
        data: dict[str, str | int | float | bool | None] | None = None,
        at: datetime | None = None,
    ) -> TimelineEntry:
        return TimelineEntry(
            incident_id=self.incident.incident_id,
            kind=kind,
            message=message,
            actor=actor or f"playbook:{workflow.info().workflow_type}",
            step=step,
            data=data or {},
            event_key=self._event_key(kind),
            at=at,
        )

    def _writes_behind(self) -> list[asyncio.Task[None]]:
        """Timeline and audit writes running as regular activities beside the playbook (a
        vote's entries, a step's start), where a local activity would hold the workflow
        task, and with it the next step, until its store commit."""
        writes: list[asyncio.Task[None]] = vars(self).setdefault("_behind", [])
        return writes

    def entries_written(self) -> bool:
        """Whether every write behind is done: a run does not end (or continue as new), and
        a step that reads the timeline does not start, before them."""
        return all(task.done() for task in self._writes_behind())

    async def audit(
        self,
        action: str,
        actor: str,
        data: dict[str, str | int | float | bool | None] | None = None,
    ) -> None:
        """Append to the hash-chained audit log (who decided what, on which incident)."""
        await self._bookkeep(
            RECORD_AUDIT,
            AuditRecord(
                actor=actor,
                action=action,
                subject=self.incident.ref,
                data=data or {},
                entry_key=self._event_key(f"audit.{action}"),
            ),
        )

    async def _bookkeep(self, contract: Contract[A, R], arg: A) -> R:
        """Run one of the engine's own store writes (timeline, audit, status, approvers).

        They are local activities: run by this worker inside the workflow task, so the
        playbook's first containment step is scheduled without waiting for the server to
        dispatch and acknowledge each bookkeeping write first. Histories recorded before
        this (regular activities) replay unchanged behind the patch.
        """
        execute = (
            workflow.execute_local_activity
            if workflow.patched(LOCAL_BOOKKEEPING_PATCH)
            else workflow.execute_activity
        )
        result: R = await execute(
            contract.name,
            arg,
            result_type=contract.result,
            start_to_close_timeout=contract.retry.timeout,
            retry_policy=contract.retry.policy,
        )
        return result

    def _event_key(self, kind: str) -> str:
        self._event_seq += 1
        info = workflow.info()
        return f"{self.incident.incident_id}:{kind}:{info.run_id}:{self._event_seq}"

    def state(self) -> IncidentState:
        return IncidentState(
            incident_id=self.incident.incident_id,
            ref=self.incident.ref,
            status=self._status,
            playbook=self.incident.playbook,
            alerts_seen=len(self._alert_ids),
            current_step=self._current_step,
            pending_approvals=self._pending_steps(),
            steps_done=list(self._steps_done),
            clocks=[clock.view() for clock in self._clocks.values()],
            in_force=[undo.step for undo in self._undo],
            lifting=[undo.step for undo in self._undo] if self._lift is not None else [],
            lift_refused=self._lift_refused,
            missing=dict(self._missing),
            skipped=dict(self._skipped),
        )

    def _pending_steps(self) -> list[str]:
        steps = [step for step, pending in self._approvals.items() if pending.decision is None]
        for (_, step), known in self._child_approvals.items():
            if known.pending.decision is None and step not in steps:
                steps.append(step)
        return [step for step in steps if step not in self._withdrawn]


async def written_by_activity(contract: Contract[A, bool], arg: A, severity: Severity) -> bool:
    """One of the engine's store writes as a regular activity (see `_writes_behind`), at
    the task priority of the incident's severity, as its steps are."""
    return await contract.execute(arg, priority=task_priority(severity))
