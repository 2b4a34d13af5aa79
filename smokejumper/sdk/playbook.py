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
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Final, TypeVar, get_type_hints

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from smokejumper.contracts.base import Contract
from smokejumper.contracts.bookkeeping import (
    NOTIFY,
    RECORD_AUDIT,
    RECORD_TIMELINE_EVENT,
    RESOLVE_APPROVERS,
    SET_INCIDENT_SEVERITY,
    SET_INCIDENT_STATUS,
)
from smokejumper.domain.alerts import Severity
from smokejumper.domain.incidents import (
    LIFT_STEP,
    QUERY_STATE,
    SIGNAL_ALERT,
    SIGNAL_ALERTS,
    SIGNAL_CHILD_APPROVAL,
    SIGNAL_DECIDE,
    SIGNAL_STOP_CLOCK,
    UPDATE_ABORT,
    UPDATE_CLOSE,
    UPDATE_DECIDE,
    UPDATE_RESTORE,
    UPDATE_STOP_CLOCK,
    AbortRequest,
    AlertAttached,
    AlertsAttached,
    AuditRecord,
    ClockView,
    CloseRequest,
    IncidentStart,
    IncidentState,
    IncidentStatus,
    Notification,
    RestoreRequest,
    SeverityChange,
    StatusChange,
    TimelineEntry,
)
from smokejumper.intake.routing import Route
from smokejumper.sdk.approvals import (
    HANDOFF_CHOICES,
    ApprovalSpec,
    ChildApproval,
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
from smokejumper.sdk.clocks import DEFAULT_REMINDERS, ClockBasis, ClockKind, ClockSpec, StopClock
from smokejumper.temporal import search_attributes

# A failed step waits for people; this long without an answer, the escalation group is asked.
HANDOFF_ESCALATE_AFTER = timedelta(minutes=15)
# An action the provider does not confirm yet (an endpoint still `Updating`) is re-checked
# this often, for this long, before it is handed to people.
VERIFY_EVERY = timedelta(seconds=30)
VERIFY_WITHIN = timedelta(minutes=15)
# Marks runs that hand failed steps to people and tell containment as it is verified.
HANDOFF_PATCH = "failure-handoff"
_CONTINUE_AS_NEW_AFTER_EVENTS = 10_000
# Marks histories whose bookkeeping writes are local activities (see Playbook._bookkeep).
LOCAL_BOOKKEEPING_PATCH = "local-bookkeeping"
# Marks child runs that announce their approvals to the parent (see Playbook._announce).
CHILD_APPROVALS_PATCH = "child-approvals"
# Marks runs that end when their incident is closed (see Playbook._close).
CLOSE_ENDS_RUN_PATCH = "close-ends-run"
# Nobody approving a lift leaves the containment in force; the closed run then ends.
LIFT_TIMEOUT = timedelta(days=1)
CLOSED = "incident closed"

A = TypeVar("A")
R = TypeVar("R")
T = TypeVar("T")


class _ContractUndo:
    """`step(undo=...)` left unset: the contract's own undo applies."""


CONTRACT_UNDO: Final = _ContractUndo()


class PlaybookAborted(Exception):
    """Raised inside `respond` to stop and undo what was done (or by a timed-out approval
    whose fallback is abort)."""


@dataclass
class _Undo:
    step: str
    contract: Contract[Any, Any]
    arg: Any


class OnFailure(StrEnum):
    """What a failed step does: hand itself to people while the response goes on (the
    default), or raise into `respond` (for a step the rest cannot do without)."""

    HAND_OFF = "hand_off"
    RAISE = "raise"


@dataclass
class _Attempted:
    """A step as `step()` was asked to run it, kept so that a responder can retry it."""

    name: str
    contract: Contract[Any, Any] | None
    arg: Any = None
    undo: Contract[Any, Any] | None = None
    retry: RetryPolicy | None = None
    timeout: timedelta | None = None
    heartbeat: timedelta | None = None

    async def run(self) -> Any:
        """Its activity, with the contract's retry class unless the step overrides it."""
        contract = self.contract
        assert contract is not None, "a step with nothing to run is only handed over"
        return await workflow.execute_activity(
            contract.name,
            self.arg,
            result_type=contract.result,
            start_to_close_timeout=self.timeout or contract.retry.timeout,
            heartbeat_timeout=self.heartbeat or contract.retry.heartbeat,
            retry_policy=self.retry or contract.retry.policy,
        )


@dataclass
class _Clock:
    spec: ClockSpec
    reminders_sent: int = 0
    breached: bool = False
    stop: StopClock | None = None
    task: asyncio.Task[None] | None = None

    def view(self) -> ClockView:
        return ClockView(
            name=self.spec.name,
            kind=self.spec.kind.value,
            basis=self.spec.basis.value,
            started_at=self.spec.started_at,
            deadline=self.spec.deadline,
            stopped_by=self.stop.actor if self.stop else None,
            filed_at=self.stop.filed_at if self.stop else None,
            reference=self.stop.reference if self.stop else "",
            breached=self.breached,
            reminders_sent=self.reminders_sent,
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ActivityError) and isinstance(exc.cause, ApplicationError):
        return exc.cause.message
    return str(exc) or type(exc).__name__


class Playbook:
    """Base class of every playbook. Subclasses set the metadata and write `respond`."""

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
        self._undo: list[_Undo] = []
        self._approvals: dict[str, PendingApproval] = {}
        # Children's approvals, by (child workflow id, step), as they last announced them.
        self._child_approvals: dict[tuple[str, str], ChildApproval] = {}
        self._announced = 0
        self._told_parent = False
        self._closing = False
        self._closed_by: CloseRequest | None = None
        self._event_seq = 0
        self._next_start: IncidentStart | None = None
        self._clocks: dict[str, _Clock] = {}
        self._abort_reason: str | None = None
        self._respond_finished = False
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

    # -- what authors write ---------------------------------------------------------------

    async def respond(self, incident: IncidentStart) -> None:
        raise NotImplementedError(f"{type(self).__name__}.respond is not written")

    # -- what authors call ----------------------------------------------------------------

    async def step(
        self,
        name: str,
        contract: Contract[A, R],
        arg: A,
        *,
        undo: Contract[A, Any] | _ContractUndo | None = CONTRACT_UNDO,
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
        reverse = contract.undo if isinstance(undo, _ContractUndo) else undo
        attempted = _Attempted(name, contract, arg, reverse, retry, timeout, heartbeat)
        try:
            result: R = await self._attempt(attempted)
        except ActivityError as exc:
            if on_failure is OnFailure.RAISE or not workflow.patched(HANDOFF_PATCH):
                raise
            self._hand_off(attempted, _describe(exc))
            return None
        await self._completed(attempted, result)
        return result

    async def _attempt(self, attempted: _Attempted) -> Any:
        name = attempted.name
        self._current_step = name
        await self.record("step.started", f"Step {name} started", step=name)
        try:
            return await attempted.run()
        except ActivityError as exc:
            await self.record("step.failed", f"Step {name} failed: {_describe(exc)}", step=name)
            raise
        finally:
            self._current_step = None

    async def _completed(self, attempted: _Attempted, result: Any) -> None:
        name = attempted.name
        self._steps_done.append(name)
        if attempted.undo is not None:
            self._undo.append(_Undo(name, attempted.undo, attempted.arg))
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
        self._hand_off(_Attempted(step, None), why)

    def _hand_off(self, attempted: _Attempted, cause: str) -> None:
        self._missing[attempted.name] = cause
        self._handoffs.append(asyncio.create_task(self._handoff(attempted, cause)))

    async def _recheck(self, attempted: _Attempted) -> None:
        """Run the (idempotent) action again until its provider confirms it: a completed
        row that is not verified only looks at the target again."""
        deadline = workflow.now() + VERIFY_WITHIN
        while workflow.now() < deadline and not self._ending:
            await workflow.sleep(VERIFY_EVERY)
            if self._ending:
                return
            try:
                result = await attempted.run()
            except ActivityError as exc:
                await self._handoff(attempted, f"re-checking it failed: {_describe(exc)}")
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

    async def _handoff(self, attempted: _Attempted, cause: str) -> None:
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
                cause = _describe(exc)
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

    async def notify(self, message: str, to: list[str] | None = None) -> list[str]:
        """Tell responders (people or `group:<name>`); returns who was notified."""
        recipients: list[str] = await workflow.execute_activity(
            NOTIFY.name,
            Notification(
                incident_id=self.incident.incident_id,
                ref=self.incident.ref,
                message=message,
                to=to or [],
                sender=f"playbook:{workflow.info().workflow_type}",
                event_key=self._event_key("notification"),
            ),
            result_type=NOTIFY.result,
            start_to_close_timeout=NOTIFY.retry.timeout,
            retry_policy=NOTIFY.retry.policy,
        )
        return recipients

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

    async def start_clock(
        self,
        kind: ClockKind,
        *,
        started_at: datetime,
        basis: ClockBasis,
        duration: timedelta | None = None,
        label: str = "",
        reminders: list[timedelta] | None = None,
        escalate_to: list[str] | None = None,
    ) -> str:
        """Start a regulatory clock from an explicit event (`started_at`, `basis`).

        Reminders fire before the deadline (default 24 h and 4 h), an escalation at breach;
        a responder stops it by recording the filing (`stop-clock`). Returns its name.
        """
        spec = ClockSpec(
            kind=kind,
            basis=basis,
            started_at=started_at,
            duration=duration,
            label=label,
            reminders=reminders if reminders is not None else list(DEFAULT_REMINDERS),
            escalate_to=escalate_to or [],
        )
        if spec.name in self._clocks:
            raise ValueError(f"clock {spec.name!r} is already running")
        clock = _Clock(spec)
        self._clocks[spec.name] = clock
        await self.record(
            "clock.started",
            f"Clock {spec.name} started ({basis.value} at {started_at.isoformat()}); "
            f"deadline {spec.deadline.isoformat()}",
            data={"clock": spec.name, "deadline": spec.deadline.isoformat()},
        )
        clock.task = asyncio.create_task(self._run_clock(clock))
        return spec.name

    async def stop_clock(self, clock: str, *, actor: str, reference: str = "") -> ClockView:
        """Stop a running clock now, as filed (or assessed as needing no filing) by
        `actor`, with `reference` on record."""
        return await self._stop_clock(
            StopClock(clock=clock, actor=actor, filed_at=workflow.now(), reference=reference)
        )

    async def _run_clock(self, clock: _Clock) -> None:
        spec = clock.spec
        for before in sorted(spec.reminders, reverse=True):
            due = spec.deadline - before
            if due <= workflow.now():
                continue
            if await self._until(lambda: clock.stop is not None, due):
                return
            clock.reminders_sent += 1
            await self.record(
                "clock.reminder",
                f"Clock {spec.name}: {before} left before the deadline {spec.deadline.isoformat()}",
                data={"clock": spec.name, "remaining_seconds": before.total_seconds()},
            )
        if await self._until(lambda: clock.stop is not None, spec.deadline):
            return
        clock.breached = True
        who = ", ".join(spec.escalate_to) or "the incident channel"
        await self.record(
            "clock.breached",
            f"Clock {spec.name} breached its deadline {spec.deadline.isoformat()}; "
            f"escalating to {who}",
            data={"clock": spec.name, "escalate_to": ", ".join(spec.escalate_to)},
        )

    async def _until(self, condition: Callable[[], bool], moment: datetime) -> bool:
        """Wait for `condition` until `moment`; True if it came true."""
        try:
            await workflow.wait_condition(condition, timeout=moment - workflow.now())
        except TimeoutError:
            return condition()
        return True

    async def _stop_clock(self, request: StopClock) -> ClockView:
        clock = self._clocks[request.clock]
        clock.stop = request
        await self.audit(
            "clock.stopped",
            request.actor,
            {
                "clock": request.clock,
                "filed_at": request.filed_at.isoformat(),
                "reference": request.reference,
            },
        )
        await self.record(
            "clock.stopped",
            f"Clock {request.clock} stopped: filed at {request.filed_at.isoformat()} by "
            f"{request.actor}" + (f" ({request.reference})" if request.reference else ""),
            actor=request.actor,
            data={"clock": request.clock, "on_time": request.filed_at <= clock.spec.deadline},
        )
        return clock.view()

    def _clock_refusal(self, request: StopClock) -> str | None:
        clock = self._clocks.get(request.clock)
        if clock is None:
            return f"no clock named {request.clock!r}"
        if clock.stop is not None:
            return f"clock {request.clock!r} was already stopped by {clock.stop.actor}"
        return None

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
            RECORD_TIMELINE_EVENT,
            TimelineEntry(
                incident_id=self.incident.incident_id,
                kind=kind,
                message=message,
                actor=actor or f"playbook:{workflow.info().workflow_type}",
                step=step,
                data=data or {},
                event_key=self._event_key(kind),
            ),
        )

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

    # -- the workflow around `respond` ----------------------------------------------------

    async def _execute(self, start: IncidentStart) -> IncidentState:
        info = workflow.info()
        if not start.resumed:
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
                await workflow.wait_condition(lambda: all(t.done() for t in self._handoffs))
            if self._told_parent:
                await workflow.wait_condition(workflow.all_handlers_finished)
            return self.state()
        await workflow.wait_condition(
            lambda: (
                self._closed_by is not None
                or workflow.info().get_current_history_length() > _CONTINUE_AS_NEW_AFTER_EVENTS
            )
        )
        if self._lift is not None:
            await self._finish_lift(self._lift)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._closed_by is None:
            workflow.continue_as_new(start.model_copy(update={"resumed": True}))
        if self._next_start is not None and (
            # A run that ends with its incident only continues for that incident re-opened.
            not self._ending or self._next_start.incident_id == self.incident.incident_id
        ):
            workflow.continue_as_new(self._next_start)
        return self.state()

    async def _respond_or_abort(self, start: IncidentStart) -> None:
        """Run `respond`; on failure or an abort request, undo what was done.

        A failed playbook does not fail the workflow: the incident stays open, with the
        failure and the undo on its timeline, for a responder to take over.
        """
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
            await self.record("playbook.aborted", f"Playbook aborted: {self._abort_reason}")
            await self._compensate()
        except PlaybookAborted as exc:
            await self.record("playbook.aborted", f"Playbook aborted: {exc}")
            await self._compensate()
        except Exception as exc:
            await self.record("playbook.failed", f"Playbook failed: {_describe(exc)}")
            await self._compensate()
        else:
            await self.record("playbook.finished", "Playbook finished; incident stays open")
        self._respond_finished = True

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

    def _event_key(self, kind: str) -> str:
        self._event_seq += 1
        info = workflow.info()
        return f"{self.incident.incident_id}:{kind}:{info.run_id}:{self._event_seq}"

    # -- handlers (the author never writes these) -----------------------------------------

    def _alert(self, attached: AlertAttached) -> None:
        # Intake delivers at least once (its outbox may re-send after a crash).
        self._alert_ids.add(attached.alert_id)
        if attached.starts_incident is not None and (self._closing or self._closed_by):
            # The next incident of this fingerprint began while this run was closing.
            self._next_start = attached.starts_incident

    async def _decide(self, request: DecisionRequest) -> VoteReceipt:
        if request.step not in self._approvals:
            return await self._forward(request)
        pending = self._approvals[request.step]
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
            answered = {
                Choice.RETRY: "to be retried",
                Choice.DONE: "recorded done by hand",
                Choice.SKIP: "skipped",
            }
            said = answered[decided.choice] if decided.choice else decided.outcome
            await self.record(
                f"approval.{decided.outcome}",
                f"Step {request.step} {said} by {', '.join(decided.decided_by)}",
                step=request.step,
                actor=request.actor,
                data={"choice": decided.choice.value if decided.choice else None},
            )
        await self._announce(pending)
        return pending.receipt()

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

    # -- a child's approvals, answered at the parent ---------------------------------------

    async def _announce(self, pending: PendingApproval) -> None:
        """Tell the parent playbook how this approval stands, when this run is a child.

        Responders answer the incident's own workflow, the parent, which lists the approval,
        checks votes against it and passes them on here. Runs recorded before children did
        this replay unchanged behind the patch.
        """
        if workflow.info().parent is None or not workflow.patched(CHILD_APPROVALS_PATCH):
            return
        self._announced += 1
        await self._tell_parent(
            ChildApproval(
                workflow_id=workflow.info().workflow_id,
                seq=self._announced,
                pending=pending.model_copy(deep=True),
            )
        )

    async def _tell_parent(self, message: ChildApproval) -> None:
        parent = workflow.info().parent
        assert parent is not None
        self._told_parent = True
        try:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                SIGNAL_CHILD_APPROVAL, message
            )
        except FailureError:
            # The parent has gone (terminated): nobody can answer there; the approval still
            # times out in the child with its declared fallback.
            return

    async def _child_approval_signal(self, message: ChildApproval) -> None:
        key = (message.workflow_id, message.pending.spec.step)
        known = self._child_approvals.get(key)
        if known is None or message.seq > known.seq:
            self._child_approvals[key] = message
        if workflow.info().parent is not None:
            # A grandchild's approval goes on up to the incident's workflow, which then
            # forwards votes to the grandchild itself.
            await self._tell_parent(message)

    def _mirrored(self, step: str) -> ChildApproval | None:
        """A child's approval of this step: the undecided one if there is one."""
        found = [known for (_, name), known in self._child_approvals.items() if name == step]
        undecided = [known for known in found if known.pending.decision is None]
        candidates = undecided or found
        return candidates[0] if candidates else None

    def _approval(self, step: str) -> PendingApproval | None:
        """The approval a responder's `step` means: this playbook's own first, then a
        child's."""
        own = self._approvals.get(step)
        if own is not None:
            return own
        mirrored = self._mirrored(step)
        return mirrored.pending if mirrored is not None else None

    async def _forward(self, request: DecisionRequest) -> VoteReceipt:
        """Pass a checked vote on to the child that asked; answer with what it will make of
        it (the child runs the same rules on the same votes, and records the vote)."""
        mirrored = self._mirrored(request.step)
        assert mirrored is not None  # refused before this by `refusal`
        pending = mirrored.pending
        pending.add_vote(request, workflow.now())
        if pending.decision is None:
            pending.decision = tally(pending, workflow.now())
        try:
            await workflow.get_external_workflow_handle(mirrored.workflow_id).signal(
                SIGNAL_DECIDE, request
            )
        except FailureError:
            del self._child_approvals[(mirrored.workflow_id, request.step)]
            await self.record(
                "approval.refused",
                f"Refused a decision from {request.actor}: the child playbook "
                f"{mirrored.workflow_id} that asked for {request.step} is no longer running",
                step=request.step,
                actor=request.actor,
            )
            return VoteReceipt(
                step=request.step, recorded=False, decision=None, approvals_missing=0
            )
        return pending.receipt(forwarded_to=mirrored.workflow_id)

    async def _close(self, request: CloseRequest) -> IncidentState:
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
            problem = _describe(exc)
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
        if decision.approved:
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
        if decision.approved:
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


def playbook(cls: type[Playbook]) -> type[Playbook]:
    """Make a Playbook subclass a Temporal workflow named `cls.name`."""
    if not getattr(cls, "name", None):
        raise TypeError(f"{cls.__name__} needs a `name`")
    if cls.respond is Playbook.respond:
        raise TypeError(f"{cls.__name__} needs a `respond` method")

    def __init__(self: Playbook, start: IncidentStart) -> None:
        Playbook.__init__(self, start)

    async def run(self: Playbook, start: IncidentStart) -> IncidentState:
        return await self._execute(start)

    async def alert(self: Playbook, attached: AlertAttached) -> None:
        self._alert(attached)

    async def alerts(self: Playbook, batch: AlertsAttached) -> None:
        for attached in batch.alerts:
            self._alert(attached)

    async def decide(self: Playbook, request: DecisionRequest) -> VoteReceipt:
        return await self._decide(request)

    def validate_decide(self: Playbook, request: DecisionRequest) -> None:
        self._validate_decide(request)

    async def decide_signal(self: Playbook, request: DecisionRequest) -> None:
        await self._decide_signal(request)

    async def child_approval_signal(self: Playbook, message: ChildApproval) -> None:
        await self._child_approval_signal(message)

    async def close(self: Playbook, request: CloseRequest) -> IncidentState:
        return await self._close(request)

    def validate_close(self: Playbook, request: CloseRequest) -> None:
        self._validate_close(request)

    def query_state(self: Playbook) -> IncidentState:
        return self.state()

    async def stop_clock(self: Playbook, request: StopClock) -> ClockView:
        return await self._stop_clock(request)

    def validate_stop_clock(self: Playbook, request: StopClock) -> None:
        problem = self._clock_refusal(request)
        if problem is not None:
            raise ValueError(problem)

    async def stop_clock_signal(self: Playbook, request: StopClock) -> None:
        problem = self._clock_refusal(request)
        if problem is not None:
            await self.record(
                "clock.refused",
                f"Refused to stop a clock: {problem}",
                actor=request.actor,
                data={"clock": request.clock},
            )
            return
        await self._stop_clock(request)

    async def restore(self: Playbook, request: RestoreRequest) -> IncidentState:
        return await self._restore(request)

    def validate_restore(self: Playbook, request: RestoreRequest) -> None:
        self._validate_restore(request)

    async def abort(self: Playbook, request: AbortRequest) -> IncidentState:
        return await self._abort(request)

    def validate_abort(self: Playbook, request: AbortRequest) -> None:
        self._validate_abort(request)

    # Name and module first: Temporal accepts only handlers that look defined on the class.
    raw: dict[str, Callable[..., Any]] = {
        "__init__": __init__,
        "run": run,
        "alert_signal": alert,
        "alerts_signal": alerts,
        "decide_signal": decide_signal,
        "child_approval_signal": child_approval_signal,
        "query_state": query_state,
        "decide_update": decide,
        "validate_decide": validate_decide,
        "close_update": close,
        "validate_close": validate_close,
        "stop_clock_update": stop_clock,
        "validate_stop_clock": validate_stop_clock,
        "stop_clock_signal": stop_clock_signal,
        "abort_update": abort,
        "validate_abort": validate_abort,
        "restore_update": restore,
        "validate_restore": validate_restore,
    }
    for attribute, function in raw.items():
        # Resolve annotations here: Temporal reads them in the class's module, where the
        # message types may not be imported.
        # `self` must stay unannotated, or Temporal counts it as the first argument.
        hints = get_type_hints(function)
        hints.pop("self", None)
        function.__annotations__ = hints
        function.__qualname__ = f"{cls.__qualname__}.{attribute}"
        function.__module__ = cls.__module__
    handlers: dict[str, Callable[..., Any]] = {
        "__init__": workflow.init(__init__),
        "run": workflow.run(run),
        "alert_signal": workflow.signal(name=SIGNAL_ALERT)(alert),
        "alerts_signal": workflow.signal(name=SIGNAL_ALERTS)(alerts),
        "decide_signal": workflow.signal(name=SIGNAL_DECIDE)(decide_signal),
        "child_approval_signal": workflow.signal(name=SIGNAL_CHILD_APPROVAL)(child_approval_signal),
        "query_state": workflow.query(name=QUERY_STATE)(query_state),
    }
    decide_update = workflow.update(name=UPDATE_DECIDE)(decide)
    decide_update.validator(validate_decide)
    handlers["decide_update"] = decide_update
    close_update = workflow.update(name=UPDATE_CLOSE)(close)
    close_update.validator(validate_close)
    handlers["close_update"] = close_update
    handlers["stop_clock_signal"] = workflow.signal(name=SIGNAL_STOP_CLOCK)(stop_clock_signal)
    stop_clock_update = workflow.update(name=UPDATE_STOP_CLOCK)(stop_clock)
    stop_clock_update.validator(validate_stop_clock)
    handlers["stop_clock_update"] = stop_clock_update
    restore_update = workflow.update(name=UPDATE_RESTORE)(restore)
    restore_update.validator(validate_restore)
    handlers["restore_update"] = restore_update
    abort_update = workflow.update(name=UPDATE_ABORT)(abort)
    abort_update.validator(validate_abort)
    handlers["abort_update"] = abort_update
    for attribute, function in handlers.items():
        setattr(cls, attribute, function)
    return workflow.defn(name=cls.name)(cls)
