"""Steps: running a contract's activity as a named step, and handing a failed (or
unconfirmed) step to people while the response goes on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from smokejumper.contracts.base import Contract
from smokejumper.contracts.bookkeeping import RECORD_TIMELINE_EVENT
from smokejumper.contracts.queues import QueueRoute
from smokejumper.domain.incidents import IncidentStatus, TimelineEntry
from smokejumper.sdk.approvals import HANDOFF_CHOICES, ApprovalSpec, Choice, Decision, Escalation
from smokejumper.sdk.attempts import (
    CONTRACT_UNDO,
    Attempted,
    ContractUndo,
    OnFailure,
    Undo,
    failure_message,
)
from smokejumper.sdk.clock_runner import Clocks
from smokejumper.sdk.patches import HANDOFF_PATCH, STEP_STARTED_BESIDE_PATCH
from smokejumper.sdk.queues import run_routed
from smokejumper.sdk.run_state import written_by_activity

# A failed step waits for people; this long without an answer, the escalation group is asked.
HANDOFF_ESCALATE_AFTER = timedelta(minutes=15)
# An action the provider does not confirm yet (an endpoint still `Updating`) is re-checked
# this often, for this long, before it is handed to people.
VERIFY_EVERY = timedelta(seconds=30)
VERIFY_WITHIN = timedelta(minutes=15)

A = TypeVar("A")
R = TypeVar("R")


class Steps(Clocks):
    """`step`, `missing` and the hand-off to people."""

    async def step(
        self,
        name: str,
        contract: Contract[A, R],
        arg: A,
        *,
        undo: Contract[A, Any] | ContractUndo | None = CONTRACT_UNDO,
        retry: RetryPolicy | None = None,
        timeout: timedelta | None = None,
        heartbeat: timedelta | None = None,
        on_failure: OnFailure = OnFailure.HAND_OFF,
    ) -> R | None:
        """Run the `contract`'s activity with `arg` as the named step, on the timeline with
        its start and outcome, and return its result.

        The contract's undo (or `undo`, None for none) reverses it with the same `arg` if
        the playbook later fails or is aborted, or its containment is lifted. `retry`,
        `timeout` and `heartbeat` override the contract's retry class for this step.

        A step that fails (at once when a retry cannot help, else after its retries) is
        handed to people: asked like an approval whether to retry it now, record that it was
        done by hand, or skip it, while `respond` goes on — the step returns None. An action
        result its provider does not confirm (`verified` False) is re-checked in the
        background. Until both are settled the incident cannot be `contained`.
        `on_failure=OnFailure.RAISE` raises the failure into `respond` instead.
        """
        if not isinstance(contract, Contract):
            # A playbook written before contracts passes the activity's name.
            raise TypeError(
                f"step {name!r}: pass the activity's contract (e.g. REVOKE_KEY from "
                f"smokejumper.sdk), not {contract!r}"
            )
        if contract.reads_timeline and not self.entries_written():
            # A vote's timeline and audit entries are written just after its decision
            # applies (Approvals._count): a report written before them would miss it.
            await workflow.wait_condition(self.entries_written)
        reverse = contract.undo if isinstance(undo, ContractUndo) else undo
        attempted = Attempted(
            name, contract, arg, reverse, retry, timeout, heartbeat, self.incident_severity
        )
        try:
            result: R = await self._attempt(attempted)
        except ActivityError as exc:
            if on_failure is OnFailure.RAISE or not workflow.patched(HANDOFF_PATCH):
                raise
            self._hand_off(attempted, failure_message(exc))
            return None
        await self._completed(attempted, result)
        return result

    async def _attempt(self, attempted: Attempted) -> Any:
        name = attempted.name
        self._current_step = name
        started = await self._step_started(name)
        try:
            result = await run_routed(attempted, self._waiting_for(name))
        except ActivityError as exc:
            if started is not None:
                await started
            await self.record(
                "step.failed", f"Step {name} failed: {failure_message(exc)}", step=name
            )
            raise
        finally:
            self._current_step = None
        if started is not None:
            await started  # the step's start is in the timeline before its end
        return result

    async def _step_started(self, name: str) -> asyncio.Task[None] | None:
        """Write `step.started`: before the step, in a dry run and in runs recorded before
        the patch; else by an activity scheduled in the same workflow task as the step's
        own, so that the step (an approved isolation, a revocation) does not wait for a
        store commit to be scheduled. Returns that write. Entries written before it in this
        workflow task were committed before the task completed, so it is stamped after
        them; `step.completed` and `step.failed` wait for it."""
        message = f"Step {name} started"
        if self.incident.rehearsal or not workflow.patched(STEP_STARTED_BESIDE_PATCH):
            await self.record("step.started", message, step=name)
            return None
        entry = self._entry("step.started", message, step=name)
        written = asyncio.create_task(self._start_written(entry))
        self._writes_behind().append(written)
        return written

    async def _start_written(self, entry: TimelineEntry) -> None:
        try:
            await written_by_activity(RECORD_TIMELINE_EVENT, entry, self.incident_severity)
        except ActivityError as exc:
            # The store refused for half an hour (STORE_RETRY): the step goes on, in the
            # run's history, and the worker's log says which entry is missing.
            workflow.logger.error("start of step %s not recorded: %s", entry.step, exc)

    def _waiting_for(self, name: str) -> Callable[[QueueRoute], Awaitable[None]]:
        async def waiting(route: QueueRoute) -> None:
            await self.record(
                "step.waiting",
                f"Step {name} waiting for a worker for {route.route}: nothing polls task "
                f"queue {route.task_queue}; it runs once `smokejumper worker --queues "
                f"{route.route}` is up",
                step=name,
                data={"queue": route.route, "task_queue": route.task_queue},
            )

        return waiting

    async def _completed(self, attempted: Attempted, result: Any) -> None:
        name = attempted.name
        self._steps_done.append(name)
        if attempted.undo is not None:
            self._undo.append(Undo(name, attempted.undo, attempted.arg))
        await self.record("step.completed", f"Step {name} completed", step=name)
        if getattr(result, "verified", None) is False and workflow.patched(HANDOFF_PATCH):
            self._missing[name] = "done, but the provider does not confirm it yet"
            await self.record(
                "step.unverified",
                f"Step {name}: the provider does not confirm it yet; re-checking every "
                f"{VERIFY_EVERY} for up to {VERIFY_WITHIN}",
                step=name,
            )
            self._handoffs.append(asyncio.create_task(self._recheck(attempted)))

    async def missing(self, step: str, why: str) -> None:
        """Say that a containment step the playbook decided on could not be taken (nothing
        to act on): the incident cannot be `contained`, and a responder is asked to do it by
        hand or to skip it."""
        if not workflow.patched(HANDOFF_PATCH):
            await self.record("containment.missing", f"Not done: {step}: {why}", step=step)
            return
        self._hand_off(Attempted(step, None), why)

    def _hand_off(self, attempted: Attempted, cause: str) -> None:
        self._missing[attempted.name] = cause
        self._handoffs.append(asyncio.create_task(self._handoff(attempted, cause)))

    async def _recheck(self, attempted: Attempted) -> None:
        """Run the (idempotent) action again until its provider confirms it: a completed
        row that is not verified only looks at the target again."""
        deadline = workflow.now() + VERIFY_WITHIN
        while workflow.now() < deadline and not self._ending:
            await workflow.sleep(VERIFY_EVERY)
            if self._ending:
                return
            try:
                result = await run_routed(attempted, self._waiting_for(attempted.name))
            except ActivityError as exc:
                await self._handoff(attempted, f"re-checking it failed: {failure_message(exc)}")
                return
            if getattr(result, "verified", None) is not False:
                self._missing.pop(attempted.name, None)
                await self.record(
                    "step.verified",
                    f"Step {attempted.name} verified: the provider confirms it",
                    step=attempted.name,
                )
                await self._settled()
                return
        if self._ending:
            return
        await self._handoff(attempted, f"the provider did not confirm it within {VERIFY_WITHIN}")

    async def _handoff(self, attempted: Attempted, cause: str) -> None:
        """Ask people what to do about a step that failed (or could not be taken), until
        it is retried successfully, done by hand, skipped, or the incident is closed."""
        name = attempted.name
        self._missing[name] = cause
        round_ = 1
        while True:
            step = f"{name} failed" if attempted.contract else f"{name} not done"
            if round_ > 1:
                step += f" ({round_})"
            choices = HANDOFF_CHOICES if attempted.contract else [Choice.DONE, Choice.SKIP]
            decision = await self._ask_handoff(step, name, cause, choices)
            who = ", ".join(decision.decided_by)
            if decision.choice is None:
                return  # withdrawn: the incident was closed; the step stays missing
            if decision.choice is Choice.DONE:
                self._missing.pop(name, None)
                self._steps_done.append(name)
                await self.record(
                    "step.done_by_hand",
                    f"Step {name} done by hand, as {who} recorded: {decision.reason}",
                    step=name,
                    actor=who,
                )
                break
            if decision.choice is Choice.SKIP:
                self._missing.pop(name, None)
                self._skipped[name] = f"skipped by {who}: {decision.reason}"
                await self.record(
                    "step.skipped",
                    f"Step {name} skipped by {who}: {decision.reason}",
                    step=name,
                    actor=who,
                )
                break
            await self.record(
                "step.retrying", f"Step {name} retried now at {who}'s request", step=name
            )
            try:
                result = await self._attempt(attempted)
            except ActivityError as exc:
                cause = failure_message(exc)
                self._missing[name] = cause
                round_ += 1
                continue
            self._missing.pop(name, None)
            await self._completed(attempted, result)
            break
        await self._settled()

    async def _ask_handoff(
        self, step: str, name: str, cause: str, choices: list[Choice]
    ) -> Decision:
        offered = {
            Choice.RETRY: "retry it now",
            Choice.DONE: "record that it was done by hand",
            Choice.SKIP: "skip it",
        }
        question = (
            (
                f"Step {name} failed: {cause}. "
                if Choice.RETRY in choices
                else f"Step {name} could not be taken: {cause}. "
            )
            + ", or ".join(offered[c] for c in choices).capitalize()
            + "?"
        )
        spec = ApprovalSpec(
            step=step[:100],
            question=question,
            risk="The incident is not contained until this is settled.",
            approvers=list(self.handoff_approvers),
            escalation=[
                Escalation(after=HANDOFF_ESCALATE_AFTER, approvers=list(self.handoff_escalate_to))
            ]
            if self.handoff_escalate_to
            else [],
            requested_by=f"playbook:{workflow.info().workflow_type}",
            choices=choices,
        )
        pending = await self._post_request(
            spec, choices=", ".join(c.value for c in choices), handoff=name, cause=cause
        )
        await self.audit("handoff.requested", spec.requested_by, {"step": name, "cause": cause})
        await self._announce(pending)
        return await self._await_decision(pending)

    async def _settled(self) -> None:
        """Once nothing is missing, an incident the playbook said was contained is."""
        if self._missing or self._contained_reason is None or self._ending:
            return
        if self._status is not IncidentStatus.PARTLY_CONTAINED:
            return
        reason = self._contained_reason
        if self._skipped:
            reason += f"; skipped by responders: {', '.join(self._skipped)}"
        await self.set_status(IncidentStatus.CONTAINED, reason)
