"""The workflow around `respond`: running it, undoing on failure or abort, closing (which
ends the run, after a lift when one is asked), restoring, and continuing as new."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from smokejumper.contracts.bookkeeping import SET_INCIDENT_STATUS
from smokejumper.domain.incidents import (
    LIFT_STEP,
    AbortRequest,
    AlertAttached,
    CloseRequest,
    IncidentStart,
    IncidentState,
    IncidentStatus,
    RestoreRequest,
    StatusChange,
)
from smokejumper.sdk.approvals import ApprovalSpec, Decision, Fallback, PendingApproval
from smokejumper.sdk.attempts import OnFailure, PlaybookAborted, failure_message
from smokejumper.sdk.clocks import StopClock
from smokejumper.sdk.patches import (
    CLOSE_ENDS_RUN_PATCH,
    CLOSE_ONCE_PATCH,
    END_APART_PATCH,
    HANDOFF_PATCH,
    LATER_ALERTS_PATCH,
    RETEST_GATE_PATCH,
)
from smokejumper.sdk.retest_gate import RetestGate
from smokejumper.sdk.run_state import CLOSED
from smokejumper.temporal import search_attributes

_CONTINUE_AS_NEW_AFTER_EVENTS = 10_000
# Nobody approving a lift leaves the containment in force; the closed run then ends.
LIFT_TIMEOUT = timedelta(days=1)
_END_APART = timedelta(milliseconds=1)
# The parts of IncidentStart.carried.
_WAITING = "waiting_alerts"
_MEMORY = "memory"


class Lifecycle(RetestGate):
    """The run from start to close; the handlers of close, abort and restore."""

    async def _execute(self, start: IncidentStart) -> IncidentState:
        info = workflow.info()
        if start.resumed and start.carried is not None and self.answers_later_alerts:
            # Continued as new while answering later alerts: go on answering them, with
            # what was dealt with so far.
            self._later_alerts = [str(alert) for alert in start.carried.get(_WAITING, [])]
            self._finished_well = True
            self.recall_later_alerts_memory(dict(start.carried.get(_MEMORY) or {}))
        if not start.resumed:
            await self.on_sight(start)
            # The run id lets the incident's Temporal UI link name this run.
            await self.record(
                "playbook.started",
                f"Playbook {info.workflow_type} started",
                data={"workflow_id": info.workflow_id, "run_id": info.run_id},
            )
            await self._respond_or_abort(start)
        if info.parent is not None:
            # A child playbook is one part of its parent's response: the parent's run owns
            # the incident and its closing, so the child returns as soon as it is done —
            # once its last announcements to the parent are through, and once what it handed
            # to people is settled (they answer at the parent, which passes it on).
            if workflow.patched(HANDOFF_PATCH):
                await workflow.wait_condition(
                    lambda: all(t.done() for t in self._handoffs) and self.entries_written()
                )
            if self._told_parent:
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and self.entries_written()
                )
            await self._ended_apart()
            return self.state()
        await self._answer_later_alerts(start)
        await workflow.wait_condition(
            lambda: (
                self._closed_by is not None
                or workflow.info().get_current_history_length() > _CONTINUE_AS_NEW_AFTER_EVENTS
            )
        )
        if self._lift is not None:
            await self._finish_lift(self._lift)
        # A vote's timeline and audit entries are written after its decision applies.
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and self.entries_written()
        )
        await self._ended_apart()
        if self._closed_by is None:
            workflow.continue_as_new(
                start.model_copy(update={"resumed": True, "carried": self._carried()})
            )
        if self._next_start is not None and (
            # A run that ends with its incident only continues for that incident re-opened.
            not self._ending or self._next_start.incident_id == self.incident.incident_id
        ):
            workflow.continue_as_new(self._next_start)
        return self.state()

    def _carried(self) -> dict[str, Any] | None:
        """What a run answering later alerts hands the run that continues it as new."""
        if self._later_alerts is None or not self._finished_well:
            return None
        return {_WAITING: list(self._later_alerts), _MEMORY: self.later_alerts_memory()}

    async def _answer_later_alerts(self, start: IncidentStart) -> None:
        """Once `respond` has finished, hand each group of alerts that joined after it began
        to `on_later_alerts`, until the incident is closed (or the run continues as new).
        Not after a failed or aborted response: a responder has it."""
        if self._later_alerts is None or not self._finished_well:
            return
        while True:
            await workflow.wait_condition(lambda: bool(self._later_alerts) or self._over_or_long())
            if self._over_or_long() or not workflow.patched(LATER_ALERTS_PATCH):
                return
            later, self._later_alerts = self._later_alerts or [], []
            await self.record(
                "alerts.later",
                f"{len(later)} alert(s) joined after the response began; answering them",
                data={"alerts": len(later)},
            )
            if not await self._answered(self.on_later_alerts(start, later)):
                return

    async def _answered(self, answer: Coroutine[Any, Any, None]) -> bool:
        """Run `answer`, stopped by a close at its next await as `respond` is; False when
        it was stopped or failed (the failure on the timeline)."""
        task = asyncio.create_task(answer)
        await workflow.wait_condition(lambda: task.done() or self._ending)
        if not task.done():
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return False
        except Exception as exc:
            await self.record(
                "playbook.failed",
                f"Answering later alerts failed: {failure_message(exc)}; a responder has the "
                "incident",
            )
            return False
        return True

    def _over_or_long(self) -> bool:
        return (
            self._closing
            or self._ending
            or self._closed_by is not None
            or workflow.info().get_current_history_length() > _CONTINUE_AS_NEW_AFTER_EVENTS
        )

    async def _ended_apart(self) -> None:
        """Complete the run in a workflow task of its own. The server refuses to complete
        a run while events it has not yet shown the worker are pending (an activity that
        finished meanwhile), and drops that task's commands: the local activities the task
        ran (timeline entries of a close, of a cancelled step) would already be written,
        and the task run again on the fuller history would write another path's entries
        beside them. A short timer ends the task that did the work, so only the bare
        completion can be refused and run again."""
        if workflow.patched(END_APART_PATCH):
            await workflow.sleep(_END_APART)

    async def _respond_or_abort(self, start: IncidentStart) -> None:
        """Run `respond`; on failure or an abort request, undo what was done.

        A failed playbook does not fail the workflow: the incident stays open, with the
        failure and the undo on its timeline, for a responder to take over.
        """
        if self.answers_later_alerts:
            self._later_alerts = []
        task = asyncio.create_task(self.respond(start))
        await workflow.wait_condition(
            lambda: task.done() or self._abort_reason is not None or self._ending
        )
        if not task.done():
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if self._abort_reason is None:
                # Stopped by the close, which records it; containment stays unless lifted.
                self._respond_finished = True
                return
            await self._votes_on_timeline()
            await self.record("playbook.aborted", f"Playbook aborted: {self._abort_reason}")
            await self._compensate()
        except PlaybookAborted as exc:
            await self._votes_on_timeline()
            await self.record("playbook.aborted", f"Playbook aborted: {exc}")
            await self._compensate()
        except Exception as exc:
            await self._votes_on_timeline()
            await self.record("playbook.failed", f"Playbook failed: {failure_message(exc)}")
            await self._compensate()
        else:
            await self._votes_on_timeline()
            await self.record("playbook.finished", "Playbook finished; incident stays open")
            self._finished_well = True
        self._respond_finished = True

    async def _votes_on_timeline(self) -> None:
        """A vote's entries are written just after its decision applies (Approvals._count):
        the end of the response is on the timeline after them, so whoever reads the
        timeline once it says the playbook finished reads every vote too. Nothing to wait
        for, it does not yield: runs recorded before replay in the same order."""
        if not self.entries_written():
            await workflow.wait_condition(self.entries_written)

    async def _compensate(self) -> None:
        """Undo completed steps that declared an undo, newest first, each on the timeline."""
        while self._undo:
            undo = self._undo.pop()
            try:
                await self.step(
                    f"undo {undo.step}", undo.contract, undo.arg, on_failure=OnFailure.RAISE
                )
            except ActivityError:
                # An undo that cannot be done (a deleted key cannot come back) is on the
                # timeline with its reason; the other undos still run, and the incident
                # stays open for a responder rather than the workflow failing.
                continue

    def _alert(self, attached: AlertAttached) -> None:
        # Intake delivers at least once (its outbox may re-send after a crash).
        if self._later_alerts is not None and attached.alert_id not in self._alert_ids:
            self._later_alerts.append(attached.alert_id)
        self._alert_ids.add(attached.alert_id)
        if attached.starts_incident is not None and (self._closing or self._closed_by):
            # The next incident of this fingerprint began while this run was closing.
            self._next_start = attached.starts_incident

    def close_when_finished(self, actor: str, reason: str) -> None:
        """Close the incident as `actor` once `respond` has returned, as a responder's
        close would (the run then ends): for an outcome a person has already confirmed,
        such as a false alarm. A close that came first wins."""

        async def close() -> None:
            await workflow.wait_condition(lambda: self._respond_finished)
            if self._closing or self._closed_by is not None:
                return
            await self._close(CloseRequest(actor=actor, reason=reason))

        # Held so the task lives as long as the run.
        self._closer = asyncio.create_task(close())

    async def _close(self, request: CloseRequest) -> IncidentState:
        if (self._closing or self._closed_by is not None) and workflow.patched(CLOSE_ONCE_PATCH):
            # Two closes in one workflow task both pass the validator before either runs:
            # the second is refused as a later one would be, not applied twice.
            raise ApplicationError("the incident is already closed", type="AlreadyClosed")
        self._closing = True
        try:
            if workflow.patched(CLOSE_ENDS_RUN_PATCH):
                await self._end_response(request)
            await self._bookkeep(
                SET_INCIDENT_STATUS,
                StatusChange(
                    incident_id=self.incident.incident_id,
                    status=IncidentStatus.CLOSED,
                    actor=request.actor,
                    reason=request.reason,
                    event_key=f"{self.incident.incident_id}:closed:{workflow.info().run_id}",
                ),
            )
        except BaseException:
            self._closing = False
            raise
        await self.audit("incident.close", request.actor, {"reason": request.reason})
        self._status = IncidentStatus.CLOSED
        self._closed_by = request
        workflow.upsert_search_attributes([search_attributes.INCIDENT_STATUS.value_set("closed")])
        return self.state()

    async def _end_response(self, request: CloseRequest) -> None:
        """What closing does before the status changes (so Slack hears it all before the
        relay ends with the close): stop `respond`, withdraw what waits on people, stop the
        clocks, and ask for the lift when the closer wants the containment undone.

        Runs recorded before this kept going after a close; they replay behind the patch.
        """
        self._ending = True
        by = f"by {request.actor}" + (f": {request.reason}" if request.reason else "")
        if not self._respond_finished:
            # Setting `_ending` cancels `respond` at its next await, this one included.
            await self.record("playbook.stopped", f"Playbook stopped: {CLOSED} ({by})")
        for step in self._pending_steps():
            self._withdrawn.append(step)
            own = self._approvals.get(step)
            if own is not None and own.decision is None:
                # Wakes a handler still waiting on it (a restore asked before the close).
                own.decision = Decision(
                    step=step,
                    outcome="denied",
                    approved=False,
                    decided_by=[],
                    decided_at=workflow.now(),
                    reason=f"withdrawn: {CLOSED}",
                )
            await self.record(
                "approval.withdrawn", f"Approval {step} withdrawn: {CLOSED}", step=step
            )
        for clock in self._clocks.values():
            if clock.stop is not None or clock.breached:
                continue
            clock.stop = StopClock(
                clock=clock.spec.name,
                actor=request.actor,
                filed_at=workflow.now(),
                reference=CLOSED,
            )
            await self.record(
                "clock.stopped",
                f"Clock {clock.spec.name} stopped: {CLOSED} ({by})",
                actor=request.actor,
                data={"clock": clock.spec.name, "on_time": None, "reason": CLOSED},
            )
        if request.lift_containment and self._undo:
            await self._ask_to_lift(request)

    async def _ask_to_lift(self, request: CloseRequest) -> None:
        """Ask someone other than the closer to approve undoing the containment (the rule
        a restore follows); the closed run waits for that answer alone, then ends."""
        steps = ", ".join(undo.step for undo in reversed(self._undo))
        question = f"Lift the containment of the closed incident (undo {steps})?"
        if request.reason:
            question += f" {request.reason}"
        spec = ApprovalSpec(
            step=LIFT_STEP,
            question=question,
            risk="Re-enables keys, users, endpoints or model versions the playbook contained.",
            approvers=list(self.restore_approvers),
            timeout=LIFT_TIMEOUT,
            fallback=Fallback.SKIP,
            requested_by=request.actor,
        )
        asked = ", ".join(spec.approvers)
        try:
            eligible = await self._resolve(spec.approvers)
            problem = (
                None
                if any(person != request.actor for person in eligible)
                else f"nobody but {request.actor} may approve it"
            )
        except ActivityError as exc:
            problem = failure_message(exc)
        if problem is not None:
            # Nobody else to ask: the close still goes through, and says what stays.
            self._lift_refused = f"{problem} (approvers: {asked})"
            await self.record(
                "playbook.lift_refused",
                f"Containment not lifted: {problem} (approvers: {asked}); it stays in force",
                actor=request.actor,
            )
            return
        await self.audit("playbook.lift.requested", request.actor, {"reason": request.reason})
        pending = PendingApproval(spec=spec, requested_at=workflow.now(), eligible=eligible)
        self._approvals[LIFT_STEP] = pending
        self._lift = pending
        await self.record(
            "approval.requested",
            f"Approval requested for {LIFT_STEP}: {question}",
            step=LIFT_STEP,
            data={"approvers": ", ".join(spec.approvers), "min_approvals": 1, "risk": spec.risk},
        )

    async def _finish_lift(self, pending: PendingApproval) -> None:
        decision = await self._await_decision(pending)
        if decision.approved and (
            not workflow.patched(RETEST_GATE_PATCH)
            or await self._retest_gate("lift", pending.spec.requested_by)
        ):
            await self.record("playbook.restoring", "Lift approved; undoing steps")
            await self._compensate()
        elif decision.outcome == "timed_out":
            await self.record(
                "approval.timed_out",
                f"Approval {LIFT_STEP} timed out: containment stays in force",
                step=LIFT_STEP,
            )
        self._lift = None

    async def _abort(self, request: AbortRequest) -> IncidentState:
        self._abort_reason = f"{request.reason or 'no reason given'} (by {request.actor})"
        await self.audit("playbook.abort", request.actor, {"reason": request.reason})
        await workflow.wait_condition(lambda: self._respond_finished)
        return self.state()

    def _validate_abort(self, request: AbortRequest) -> None:
        if self._respond_finished:
            raise ValueError("the playbook has already finished; nothing to abort")
        if self._abort_reason is not None:
            raise ValueError("an abort is already under way")

    async def _restore(self, request: RestoreRequest) -> IncidentState:
        """Ask for approval (never from the requester), then undo the reversible steps."""
        self._restoring = True
        await self.audit("playbook.restore.requested", request.actor, {"reason": request.reason})
        decision = await self.approve(
            "restore",
            question=f"Undo the playbook's reversible steps? {request.reason}".strip(),
            risk="Re-enables keys, endpoints or model versions the playbook contained.",
            approvers=list(self.restore_approvers),
            requested_by=request.actor,
        )
        if decision.approved and (
            # Containment that keeps attackers away is undone only after a retest passes
            # (or two people override it); runs recorded before this restore at once.
            not workflow.patched(RETEST_GATE_PATCH)
            or await self._retest_gate("restore", request.actor)
        ):
            await self.record("playbook.restoring", "Restore approved; undoing steps")
            await self._compensate()
        self._restoring = False
        return self.state()

    def _validate_restore(self, request: RestoreRequest) -> None:
        if self._ending:
            raise ValueError(
                "the incident is closed; lifting its containment is asked when closing"
            )
        if not self._respond_finished:
            raise ValueError("the playbook is still running; abort it instead")
        if self._restoring:
            raise ValueError("a restore is already waiting for approval")
        if not self._undo:
            raise ValueError("nothing to restore: no completed step declared an undo")

    def _validate_close(self, request: CloseRequest) -> None:
        if self._closing or self._closed_by is not None:
            raise ValueError("the incident is already closed")
