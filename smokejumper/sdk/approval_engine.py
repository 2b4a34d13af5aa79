"""Approvals: asking people, waiting durably with escalation and timeout, and taking
their votes (the `decide` update and signal)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

from smokejumper.contracts.base import Contract
from smokejumper.contracts.bookkeeping import RECORD_AUDIT, RECORD_TIMELINE_EVENT, RESOLVE_APPROVERS
from smokejumper.domain.alerts import Severity
from smokejumper.domain.incidents import AuditRecord, TimelineEntry
from smokejumper.sdk.approvals import (
    ApprovalSpec,
    Choice,
    Decision,
    DecisionRequest,
    Escalation,
    Fallback,
    PendingApproval,
    VoteReceipt,
    refusal,
    tally,
    timed_out,
)
from smokejumper.sdk.attempts import PlaybookAborted
from smokejumper.sdk.child_approvals import ChildApprovals
from smokejumper.sdk.patches import VOTES_WRITTEN_AFTER_PATCH
from smokejumper.sdk.run_state import CLOSED, written_by_activity

# One store write of a counted vote: the contract and its argument.
VoteWrite = tuple[Contract[Any, bool], TimelineEntry | AuditRecord]


class Approvals(ChildApprovals):
    """`approve` and the handlers that take decisions."""

    async def approve(
        self,
        step: str,
        *,
        question: str,
        approvers: list[str],
        risk: str = "",
        min_approvals: int = 1,
        timeout: timedelta | None = None,
        escalation: list[Escalation] | None = None,
        fallback: Fallback | None = None,
        requested_by: str | None = None,
    ) -> Decision:
        """Ask `approvers` (people or `group:<name>`) and wait durably for the answer.

        One deny denies; `min_approvals` distinct people must approve. Escalation tiers
        widen the circle after their delay; at `timeout` the declared `fallback` applies
        (abort raises PlaybookAborted and undoes completed steps).
        """
        spec = ApprovalSpec(
            step=step,
            question=question,
            risk=risk,
            approvers=approvers,
            min_approvals=min_approvals,
            timeout=timeout,
            escalation=escalation or [],
            fallback=fallback,
            requested_by=requested_by or f"playbook:{workflow.info().workflow_type}",
        )
        if step in self._approvals:
            raise ValueError(f"approval step {step!r} was already requested")
        self._current_step = step
        pending = await self._post_request(spec)
        await self._announce(pending)
        decision = await self._await_decision(pending)
        self._current_step = None
        if decision.outcome == "timed_out":
            await self._announce(pending)
            await self.record(
                "approval.timed_out", f"Approval {step} timed out: {decision.reason}", step=step
            )
            if decision.fallback is Fallback.ABORT:
                raise PlaybookAborted(f"approval {step} timed out")
        return decision

    async def _post_request(self, spec: ApprovalSpec, **data: str) -> PendingApproval:
        """Register a request for people (an approval or a hand-off), eligible as its
        approvers resolve now, and put it on the timeline where every surface reads it."""
        eligible = await self._resolve(spec.approvers)
        pending = PendingApproval(spec=spec, requested_at=workflow.now(), eligible=eligible)
        self._approvals[spec.step] = pending
        await self.record(
            "approval.requested",
            f"Approval requested for {spec.step}: {spec.question}",
            step=spec.step,
            data={
                "approvers": ", ".join(spec.approvers),
                "min_approvals": spec.min_approvals,
                "risk": spec.risk,
                **data,
            },
        )
        return pending

    async def _resolve(self, approvers: list[str]) -> list[str]:
        resolved: list[str] = await self._bookkeep(RESOLVE_APPROVERS, approvers)
        return resolved

    async def _await_decision(self, pending: PendingApproval) -> Decision:
        spec = pending.spec
        for tier, escalation in enumerate(spec.escalation, start=1):
            remaining = pending.requested_at + escalation.after - workflow.now()
            if await self._decided_within(pending, remaining):
                break
            pending.eligible = sorted(
                set(pending.eligible) | set(await self._resolve(escalation.approvers))
            )
            pending.tier = tier
            await self._announce(pending)
            await self.record(
                "approval.escalated",
                f"No decision on {spec.step} after {escalation.after}; "
                f"also asking {', '.join(escalation.approvers)}",
                step=spec.step,
            )
        if pending.decision is None:
            deadline = pending.deadline
            remaining_total = None if deadline is None else deadline - workflow.now()
            if not await self._decided_within(pending, remaining_total):
                pending.decision = timed_out(pending, workflow.now())
        assert pending.decision is not None
        return pending.decision

    async def _decided_within(self, pending: PendingApproval, limit: timedelta | None) -> bool:
        if pending.decision is not None:
            return True
        if limit is not None and limit <= timedelta(0):
            return False
        try:
            await workflow.wait_condition(
                lambda: pending.decision is not None,
                timeout=limit,
            )
        except TimeoutError:
            return False
        return True

    async def _decide(self, request: DecisionRequest) -> VoteReceipt:
        if request.step not in self._approvals:
            return await self._forward(request)
        pending = self._approvals[request.step]
        if workflow.patched(VOTES_WRITTEN_AFTER_PATCH):
            return self._count(pending, request)
        pending.add_vote(request, workflow.now())
        verb = "approved" if request.approve else "denied"
        await self.record(
            "approval.vote",
            f"{request.actor} {verb} {request.step} via {request.via}"
            + (f": {request.reason}" if request.reason else ""),
            step=request.step,
            actor=request.actor,
        )
        await self.audit(
            f"approval.{verb}",
            request.actor,
            {"step": request.step, "via": request.via, "reason": request.reason},
        )
        decided = tally(pending, workflow.now())
        if decided is not None and pending.decision is None:
            pending.decision = decided
            await self.audit(
                f"approval.decision.{decided.outcome}",
                ", ".join(decided.decided_by),
                {"step": request.step},
            )
            said = _ANSWERED[decided.choice] if decided.choice else decided.outcome
            await self.record(
                f"approval.{decided.outcome}",
                f"Step {request.step} {said} by {', '.join(decided.decided_by)}",
                step=request.step,
                actor=request.actor,
                data={"choice": decided.choice.value if decided.choice else None},
            )
        await self._announce(pending)
        return pending.receipt()

    def _count(self, pending: PendingApproval, request: DecisionRequest) -> VoteReceipt:
        """Count a checked vote and make the decision it completes, at once: the update
        answers and the playbook goes on in this same workflow task, and the vote's timeline
        and audit entries are written by activities just after its next step is scheduled,
        not before it (each bookkeeping write before it held the task, and so the step, for
        a store commit). The entries keep their order: the vote, then the decision."""
        now = workflow.now()
        pending.add_vote(request, now)
        decided = tally(pending, now)
        made = decided if decided is not None and pending.decision is None else None
        if made is not None:
            pending.decision = made
        verb = "approved" if request.approve else "denied"
        vote: list[VoteWrite] = [
            self._timeline_write(
                "approval.vote",
                f"{request.actor} {verb} {request.step} via {request.via}"
                + (f": {request.reason}" if request.reason else ""),
                request,
            ),
            self._audit_write(
                f"approval.{verb}",
                request.actor,
                {"step": request.step, "via": request.via, "reason": request.reason},
            ),
        ]
        decision: list[VoteWrite] = []
        if made is not None:
            said = _ANSWERED[made.choice] if made.choice else made.outcome
            decision = [
                self._audit_write(
                    f"approval.decision.{made.outcome}",
                    ", ".join(made.decided_by),
                    {"step": request.step},
                ),
                self._timeline_write(
                    f"approval.{made.outcome}",
                    f"Step {request.step} {said} by {', '.join(made.decided_by)}",
                    request,
                    {"choice": made.choice.value if made.choice else None},
                ),
            ]
        writes = self._writes_behind()
        earlier = writes[-1] if writes else None
        writes.append(asyncio.create_task(self._write_vote(earlier, pending, vote, decision)))
        return pending.receipt()

    def _timeline_write(
        self,
        kind: str,
        message: str,
        request: DecisionRequest,
        data: dict[str, str | int | float | bool | None] | None = None,
    ) -> VoteWrite:
        entry = self._entry(
            kind,
            message,
            step=request.step,
            actor=request.actor,
            data=data,
            # Written after the step the decision released has started: stamped when it
            # was counted, it stays before that step's start in the timeline.
            at=workflow.now(),
        )
        return RECORD_TIMELINE_EVENT, entry

    def _audit_write(
        self, action: str, actor: str, data: dict[str, str | int | float | bool | None]
    ) -> VoteWrite:
        record = AuditRecord(
            actor=actor,
            action=action,
            subject=self.incident.ref,
            data=data,
            entry_key=self._event_key(f"audit.{action}"),
        )
        return RECORD_AUDIT, record

    async def _write_vote(
        self,
        earlier: asyncio.Task[None] | None,
        pending: PendingApproval,
        vote: list[VoteWrite],
        decision: list[VoteWrite],
    ) -> None:
        """The vote's entries, then the decision's, after those of any earlier vote: within
        each pair the timeline and the audit log are written at once (different tables), so
        the audit chain holds the votes in the order they were counted, and the decision
        after them, and so does the timeline. Regular activities, not local ones: a local
        activity would hold the workflow task, and with it the next step, until written."""
        await self._announce(pending)
        # Scheduled with the next step, these writes would reach the worker first and hold
        # its store's write lock (and its CPU) while the step starts: a timer puts them in
        # the next workflow task, just after the step's activity is on its way.
        await workflow.sleep(_WRITE_AFTER)
        if earlier is not None:
            await earlier
        try:
            severity = self.incident_severity
            await asyncio.gather(*(_written(w, severity) for w in vote))
            await asyncio.gather(*(_written(w, severity) for w in decision))
        except ActivityError as exc:
            # The store refused for half an hour (STORE_RETRY): the decision stands, in the
            # run's history, and the worker's log says which entry is missing.
            workflow.logger.error("vote on %s not recorded: %s", pending.spec.step, exc)

    def _validate_decide(self, request: DecisionRequest) -> None:
        problem = self._decide_refusal(request)
        if problem is not None:
            raise ValueError(problem)

    def _decide_refusal(self, request: DecisionRequest) -> str | None:
        if request.step in self._withdrawn:
            return f"step {request.step!r} was withdrawn: {CLOSED}"
        return refusal(self._approval(request.step), request, workflow.now())

    async def _decide_signal(self, request: DecisionRequest) -> None:
        problem = self._decide_refusal(request)
        if problem is not None:
            await self.record(
                "approval.refused",
                f"Refused a decision from {request.actor}: {problem}",
                step=request.step,
                actor=request.actor,
            )
            return
        await self._decide(request)


# How long after the decision its entries are written (the timer ends the workflow task).
_WRITE_AFTER = timedelta(milliseconds=1)
_ANSWERED = {
    Choice.RETRY: "to be retried",
    Choice.DONE: "recorded done by hand",
    Choice.SKIP: "skipped",
}


async def _written(write: VoteWrite, severity: Severity) -> bool:
    contract, arg = write
    return await written_by_activity(contract, arg, severity)
