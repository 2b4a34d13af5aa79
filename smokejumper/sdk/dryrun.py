"""`smokejumper playbooks dry-run`: rehearse a playbook against an alert, touching nothing.

The playbook runs for real — as a Temporal workflow, in the sandbox — but on the
time-skipping test server, and every activity it calls is a recorder: it notes the name
and the arguments and answers with the activity contract's typed fake — containment as
done and confirmed, and what the reading activities (`incident_context`, `assess_leak`)
would say of the alert given, so the rehearsal takes the branches the real incident would.
No containment provider is called and no database is opened (the timeline, status and
audit activities are recorders too). Approvals are answered by a policy; timers are
skipped, so an hour-long timeout costs nothing.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import RawValue, SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker, WorkflowRunner

from smokejumper.config import Settings
from smokejumper.contracts.base import Contract, Rehearsal, contracts_of
from smokejumper.domain.alerts import Alert
from smokejumper.domain.fingerprint import fingerprint, workflow_id_for
from smokejumper.domain.incidents import (
    QUERY_STATE,
    SIGNAL_ALERT,
    SIGNAL_DECIDE,
    UPDATE_RESTORE,
    AlertAttached,
    IncidentStart,
    IncidentState,
    RestoreRequest,
)
from smokejumper.sdk.approvals import DecisionRequest
from smokejumper.sdk.lint import sandbox_refusal
from smokejumper.sdk.playbook import Playbook
from smokejumper.temporal import search_attributes
from smokejumper.temporal.binaries import BinaryNotFound, temporal_test_server
from smokejumper.temporal.client import ensure_search_attributes
from smokejumper.temporal.sandbox import sandboxed_runner

Policy = Literal["all", "none", "ask"]
Outcome = Literal["finished", "aborted", "failed", "incomplete"]

TASK_QUEUE = "smokejumper-dry-run"
# Every approval's eligible list gets these, so `all` can meet any sensible min_approvals
# with distinct people; none of them is a real identity.
SYNTHETIC_APPROVERS = tuple(f"dry-run-approver-{number}" for number in range(1, 26))
REDACT_LONGER_THAN = 40
REAL_TIME_LIMIT = timedelta(minutes=2)
# Who asks to restore in a rehearsal (`--restore`): none of the approvers.
RESTORE_REQUESTER = "dry-run-requester"
WORKFLOW_TIME_LIMIT = timedelta(days=400)
_POLL_SECONDS = 0.02

TERMINAL_KINDS: dict[str, Outcome] = {
    "playbook.finished": "finished",
    "playbook.aborted": "aborted",
    "playbook.failed": "failed",
}
# The SDK's own bookkeeping, shown in the plan as the steps and approvals it records, and
# only listed among the calls.
FOLDED_ACTIVITIES = frozenset(
    {"record_timeline_event", "resolve_approvers", "record_audit"}
    # Which task queue a step runs on is the worker's configuration, not a step.
    | {"integration_queue", "queue_has_worker"}
)
# What the SDK itself calls, outside any step (a handler may run one while a step is open).
# The worker's containment activities are not among them: a step calls those.
SDK_ACTIVITIES = frozenset({"set_incident_status", "set_incident_severity", "notify"})
_DECIDED_KINDS = {"approval.approved", "approval.denied", "approval.timed_out"}
# Timeline kinds the plan leaves to the timeline: the steps and approvals say it already.
_QUIET_KINDS = {"playbook.started", "approval.vote", "approval.refused", "approval.escalated"}


class DryRunError(Exception):
    """The playbook cannot be run at all (the sandbox refuses its module, or the test
    server is missing)."""


class InvalidAlert(ValueError):
    """The body is not an alert in the generic format; `problems` says why, field by field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def alert_from_json(body: str | bytes) -> Alert:
    """The alert a dry run rehearses, from JSON in the generic format."""
    try:
        return Alert.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidAlert(
            [
                f"{'.'.join(str(part) for part in error['loc']) or '(root)'}: {error['msg']}"
                for error in exc.errors()
            ]
        ) from None


class Call(BaseModel):
    """One activity the playbook called, with its arguments (long strings redacted)."""

    activity: str
    args: list[Any]
    workflow_id: str
    step: str | None = None
    # Steps running when it was called, if more than one (`self.parallel`): which of them
    # made the call cannot be told from outside the workflow.
    during: list[str] = Field(default_factory=list)


class RehearsalEntry(BaseModel):
    kind: str
    message: str
    step: str | None = None
    actor: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


class PlanEntry(BaseModel):
    """A step, an approval, a timeline record or a bare activity call, in order."""

    type: Literal["step", "approval", "record", "activity"]
    name: str
    activity: str | None = None
    args: list[Any] | None = None
    outcome: str | None = None
    message: str | None = None
    question: str | None = None
    approvers: str | None = None
    min_approvals: int | None = None
    decided_by: list[str] = Field(default_factory=list)
    during: list[str] = Field(default_factory=list)


class AlertSummary(BaseModel):
    source: str
    kind: str
    severity: str
    title: str


class ChildPlan(BaseModel):
    """What a child workflow the playbook started (`self.child`) did."""

    workflow_id: str
    playbook: str
    plan: list[PlanEntry]


class DryRunReport(BaseModel):
    playbook: str
    version: str
    policy: Policy
    alert: AlertSummary
    fingerprint: str
    workflow_id: str
    outcome: Outcome
    reason: str
    workflow_time_seconds: float
    plan: list[PlanEntry]
    children: list[ChildPlan] = Field(default_factory=list)
    calls: list[Call]
    timeline: list[RehearsalEntry]


@dataclass(frozen=True)
class ApprovalAsk:
    """What `--approve ask` shows before asking."""

    step: str
    question: str
    approvers: str
    min_approvals: int


def redact(value: Any, limit: int = REDACT_LONGER_THAN) -> Any:
    """Long strings become their length and a short digest: evidence (prompts, responses,
    keys) must not reach a terminal, but equal values stay recognisably equal."""
    if isinstance(value, str) and len(value) > limit:
        digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]
        return f"<redacted: {len(value)} chars, sha256 {digest}>"
    if isinstance(value, dict):
        return {key: redact(item, limit) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item, limit) for item in value]
    return value


class CallRecorder:
    """The only activity the dry-run worker has: it answers every activity name."""

    def __init__(
        self,
        contracts: Iterable[Contract[Any, Any]] = (),
        rehearsal: Rehearsal | None = None,
    ) -> None:
        self.contracts = {contract.name: contract for contract in contracts}
        self.rehearsal = rehearsal
        # Activities of the engine itself (status, severity, audit, …) are never a step's:
        # a signal handler may call one while a step is open.
        self.engine_activities = SDK_ACTIVITIES | FOLDED_ACTIVITIES
        self.calls: list[Call] = []
        self.timeline: dict[str, list[RehearsalEntry]] = {}
        self.workflow_types: dict[str, str] = {}
        self._open_steps: dict[str, list[str]] = {}

    @activity.defn(dynamic=True)
    async def record(self, args: Sequence[RawValue]) -> Any:
        info = activity.info()
        converter = activity.payload_converter()
        values: list[Any] = []
        for raw in args:
            try:
                values.append(converter.from_payload(raw.payload))
            except Exception:
                # Not JSON (a binary or protobuf payload): say so rather than fail the step.
                values.append(f"<{raw.payload.metadata.get('encoding', b'?').decode()} payload>")
        name = info.activity_type
        workflow_id = info.workflow_id or ""
        self.workflow_types[workflow_id] = info.workflow_type or ""
        if name == "record_timeline_event" and values and isinstance(values[0], dict):
            self._timeline(workflow_id, values[0])
            return None
        open_steps = list(self._open_steps.get(workflow_id, []))
        if name in self.engine_activities:
            open_steps = []
        self.calls.append(
            Call(
                activity=name,
                args=redact(values),
                workflow_id=workflow_id,
                step=open_steps[0] if len(open_steps) == 1 else None,
                during=open_steps if len(open_steps) > 1 else [],
            )
        )
        contract = self.contracts.get(name)
        if contract is None or self.rehearsal is None:
            return None
        arg = converter.from_payload(args[0].payload, contract.arg) if args else None
        return contract.answer(arg, self.rehearsal)

    def _timeline(self, workflow_id: str, entry: dict[str, Any]) -> None:
        item = RehearsalEntry(
            kind=str(entry.get("kind", "")),
            message=str(entry.get("message", "")),
            step=entry.get("step"),
            actor=str(entry.get("actor", "")),
            data=redact(entry.get("data") or {}),
        )
        self.timeline.setdefault(workflow_id, []).append(item)
        self.calls.append(
            Call(
                activity="record_timeline_event",
                args=[item.model_dump()],
                workflow_id=workflow_id,
                step=item.step,
            )
        )
        steps = self._open_steps.setdefault(workflow_id, [])
        if item.kind == "step.started" and item.step is not None:
            steps.append(item.step)
        elif item.kind in {"step.completed", "step.failed"} and item.step in steps:
            steps.remove(item.step)

    def outcome(self, workflow_id: str) -> Outcome | None:
        for item in self.timeline.get(workflow_id, []):
            if item.kind in TERMINAL_KINDS:
                return TERMINAL_KINDS[item.kind]
        return None

    def approval_requests(self, workflow_id: str) -> list[ApprovalAsk]:
        asks = []
        for item in self.timeline.get(workflow_id, []):
            if item.kind == "approval.requested" and item.step is not None:
                asks.append(_ask_of(item))
        return asks


def _ask_of(item: RehearsalEntry) -> ApprovalAsk:
    assert item.step is not None
    prefix = f"Approval requested for {item.step}: "
    question = item.message.removeprefix(prefix)
    minimum = item.data.get("min_approvals")
    return ApprovalAsk(
        step=item.step,
        question=question,
        approvers=str(item.data.get("approvers", "")),
        min_approvals=minimum if isinstance(minimum, int) else 1,
    )


@dataclass
class _HistoryState:
    busy: bool = False
    closed: str | None = None
    task_failure: str | None = None
    next_timer: datetime | None = None
    children: list[str] = field(default_factory=list)


_ACTIVITY_CLOSED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
}
_WORKFLOW_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed out",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "canceled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued as new",
}


_CHILD_START_SETTLED = {
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
}


def _attributes(event: HistoryEvent) -> Any:
    which = event.WhichOneof("attributes")
    return getattr(event, which) if which else None


async def _history_state(handle: WorkflowHandle[Any, Any]) -> _HistoryState:
    """Whether the workflow is still working (a task or an activity outstanding), has
    closed or failed a workflow task, and when its next timer fires."""
    state = _HistoryState()
    open_activities: set[int] = set()
    timers: dict[int, datetime] = {}
    starting_children: set[int] = set()
    task_open = False
    async for event in handle.fetch_history_events():
        kind = event.event_type
        attributes = _attributes(event)
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            open_activities.add(event.event_id)
        elif kind in _ACTIVITY_CLOSED:
            open_activities.discard(attributes.scheduled_event_id)
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            fires = event.event_time.ToDatetime(tzinfo=UTC)
            timers[event.event_id] = fires + attributes.start_to_fire_timeout.ToTimedelta()
        elif kind in {EventType.EVENT_TYPE_TIMER_FIRED, EventType.EVENT_TYPE_TIMER_CANCELED}:
            timers.pop(attributes.started_event_id, None)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            task_open = True
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            task_open = False
            state.task_failure = None
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            task_open = False
            state.task_failure = attributes.failure.message or "workflow task failed"
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            task_open = False
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            starting_children.add(event.event_id)
        elif kind in _CHILD_START_SETTLED:
            starting_children.discard(attributes.initiated_event_id)
            if kind == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
                state.children.append(attributes.workflow_execution.workflow_id)
        elif kind in _WORKFLOW_CLOSED:
            state.closed = _WORKFLOW_CLOSED[kind]
    # A retried workflow task that keeps failing is not progress.
    state.busy = (
        bool(open_activities)
        or bool(starting_children)
        or (task_open and state.task_failure is None)
    )
    state.next_timer = min(timers.values(), default=None)
    return state


@dataclass
class _Answer:
    approve: bool
    actors: list[str]


@dataclass
class DryRun:
    """One rehearsal: start the playbook, answer its approvals, skip its timers."""

    playbook: type[Playbook]
    alert: Alert
    policy: Policy
    runner: WorkflowRunner
    playbooks: Sequence[type[Playbook]] = ()
    fingerprint_fields: list[str] | None = None
    ask: Callable[[ApprovalAsk], bool] | None = None
    # Once the playbook finished, ask to restore (as `smokejumper incidents restore`).
    restore: bool = False
    real_time_limit: timedelta = REAL_TIME_LIMIT
    workflow_time_limit: timedelta = WORKFLOW_TIME_LIMIT
    # Workflow id → approval step → how it was answered.
    _answers: dict[str, dict[str, _Answer]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.recorder = CallRecorder(
            contracts_of([self.playbook, *self.playbooks]),
            Rehearsal(alert=self.alert, approvers=SYNTHETIC_APPROVERS),
        )

    async def run(self) -> DryRunReport:
        fp = fingerprint(self.alert, self.fingerprint_fields)
        workflow_id = workflow_id_for(fp)
        workflows = self._runnable()
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(temporal_test_server()),
            data_converter=pydantic_data_converter,
            runtime=_runtime(),
        )
        try:
            # The test server starts without them; a playbook that sets its status or
            # severity upserts them.
            await ensure_search_attributes(env.client)
            began = await env.get_current_time()
            start = IncidentStart(
                incident_id=0,
                ref="DRY-RUN",
                rehearsal=True,
                fingerprint=fp,
                kind=self.alert.kind.value,
                severity=self.alert.severity.value,
                title=self.alert.title,
                playbook=self.playbook.name,
                opened_at=began,
            )
            async with Worker(
                env.client,
                task_queue=TASK_QUEUE,
                workflows=workflows,
                activities=[self.recorder.record],
                workflow_runner=self.runner,
            ):
                handle = await self._start(env, start, workflow_id)
                try:
                    outcome, reason = await self._drive(env, handle, began)
                    if self.restore and outcome == "finished":
                        reason = await self._restore(env, handle, began, reason)
                finally:
                    try:
                        await handle.terminate("dry run finished")
                    except RPCError:
                        pass  # it had closed already
                elapsed = await env.get_current_time() - began
        finally:
            await env.shutdown()
        return self._report(fp, workflow_id, outcome, reason, elapsed)

    def _runnable(self) -> list[type[Playbook]]:
        """The playbook, and every other one the sandbox accepts (children it may start).

        A broken module elsewhere must not stop a rehearsal of this playbook; a broken
        module of this playbook stops it, with the sandbox's reason.
        """
        runnable: list[type[Playbook]] = []
        others = [other for other in self.playbooks if other is not self.playbook]
        for candidate in [self.playbook, *others]:
            refusal = sandbox_refusal(self.runner, workflow._Definition.must_from_class(candidate))
            if refusal is None:
                runnable.append(candidate)
            elif candidate is self.playbook:
                raise DryRunError(
                    f"{candidate.name} fails in the Temporal workflow sandbox: {refusal}"
                )
        return runnable

    async def _start(
        self, env: WorkflowEnvironment, start: IncidentStart, workflow_id: str
    ) -> WorkflowHandle[Any, IncidentState]:
        # As intake starts it: the alert arrives as the start signal.
        handle: WorkflowHandle[Any, IncidentState] = await env.client.start_workflow(
            self.playbook.name,
            start,
            id=workflow_id,
            task_queue=TASK_QUEUE,
            start_signal=SIGNAL_ALERT,
            start_signal_args=[
                AlertAttached(
                    alert_id="dry-run-alert",
                    severity=start.severity,
                    title=start.title,
                    deduplicated=False,
                )
            ],
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(search_attributes.INCIDENT_ID, start.ref),
                    SearchAttributePair(search_attributes.SEVERITY, start.severity),
                    SearchAttributePair(search_attributes.PLAYBOOK, start.playbook),
                    SearchAttributePair(search_attributes.INCIDENT_STATUS, "open"),
                ]
            ),
            result_type=IncidentState,
        )
        return handle

    async def _drive(
        self, env: WorkflowEnvironment, handle: WorkflowHandle[Any, IncidentState], began: datetime
    ) -> tuple[Outcome, str]:
        workflow_id = handle.id
        deadline = time.monotonic() + self.real_time_limit.total_seconds()
        seen = -1
        while True:
            if time.monotonic() > deadline:
                limit = self.real_time_limit.total_seconds()
                return "incomplete", f"still running after {limit:.0f} s of real time"
            # The playbook and the child workflows it started, each with its own history.
            histories: dict[str, _HistoryState] = {}
            pending = [workflow_id]
            while pending:
                current = env.client.get_workflow_handle(pending.pop())
                histories[current.id] = history = await _history_state(current)
                pending += [child for child in history.children if child not in histories]
            root = histories[workflow_id]
            running = {wid: state for wid, state in histories.items() if state.closed is None}
            terminal = self.recorder.outcome(workflow_id)
            if root.closed is not None:
                return terminal or "failed", f"the workflow {root.closed}"
            progressed = len(self.recorder.calls) != seen
            seen = len(self.recorder.calls)
            if progressed or any(state.busy for state in running.values()):
                await asyncio.sleep(_POLL_SECONDS)
                continue
            # Nothing runs: answer what waits for people only now, once the playbooks have
            # gone as far as they can without them. Answered as soon as asked, an approval
            # raced the rest of the playbook, and the plan's order changed from run to run.
            answered = False
            for running_id in running:
                answered |= await self._answer_approvals(env.client.get_workflow_handle(running_id))
            if answered:
                seen = -1
                await asyncio.sleep(_POLL_SECONDS)
                continue
            # Nothing is running: the playbook is done, broken, or waiting for time.
            if terminal is not None:
                return terminal, _reason(terminal)
            failures = [state.task_failure for state in running.values() if state.task_failure]
            if failures:
                return "failed", f"a workflow task failed: {failures[0]}"
            timers = [state.next_timer for state in running.values() if state.next_timer]
            if not timers:
                return "incomplete", (
                    "the playbook waits for something a dry run does not send "
                    "(a signal or an update: a clock filing, an abort, a close)"
                )
            next_timer = min(timers)
            if next_timer - began > self.workflow_time_limit:
                return "incomplete", (
                    f"its next timer is more than {self.workflow_time_limit.days} days away"
                )
            now = await env.get_current_time()
            # Exactly to the timer, not past it: what follows may ask for an approval
            # whose own timeout must not be skipped before it is answered.
            await env.sleep(max(next_timer - now, timedelta(milliseconds=1)))

    async def _restore(
        self,
        env: WorkflowEnvironment,
        handle: WorkflowHandle[Any, IncidentState],
        began: datetime,
        reason: str,
    ) -> str:
        """Ask to restore, as a responder would, and drive what follows: its approval, the
        retest before the undo (rehearsed: it passes) and the undo itself. Not waited on
        as an update: the test server loses updates whose handler awaits an activity."""
        try:
            await handle.start_update(
                UPDATE_RESTORE,
                RestoreRequest(actor=RESTORE_REQUESTER, reason="dry run, --restore"),
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                result_type=IncidentState,
            )
        except (WorkflowUpdateFailedError, RPCError) as exc:
            cause = exc.cause if isinstance(exc, WorkflowUpdateFailedError) else exc
            return f"{reason}; restore refused: {cause}"
        await self._drive(env, handle, began)
        return f"{reason}, then restored at {RESTORE_REQUESTER}'s request"

    async def _answer_approvals(self, handle: WorkflowHandle[Any, Any]) -> bool:
        """Answer the run's pending approvals; whether any was answered."""
        answers = self._answers.setdefault(handle.id, {})
        waiting = [
            ask for ask in self.recorder.approval_requests(handle.id) if ask.step not in answers
        ]
        if not waiting:
            return False
        try:
            state = await handle.query(QUERY_STATE, result_type=IncidentState)
        except (WorkflowQueryFailedError, RPCError):
            return False  # not answerable yet (its first task is still running); next round
        answered = False
        for ask in waiting:
            if ask.step not in state.pending_approvals:
                continue
            answered = True
            approve = await self._decide(ask)
            count = min(ask.min_approvals, len(SYNTHETIC_APPROVERS)) if approve else 1
            actors = list(SYNTHETIC_APPROVERS[:count])
            answers[ask.step] = _Answer(approve=approve, actors=actors)
            for actor in actors:
                # A signal, not the update: the test server loses updates whose handler
                # awaits an activity (see docs/decisions.md).
                await handle.signal(
                    SIGNAL_DECIDE,
                    DecisionRequest(
                        step=ask.step,
                        approve=approve,
                        actor=actor,
                        reason=f"dry run, --approve {self.policy}",
                        via="dry-run",
                    ),
                )
        return answered

    async def _decide(self, ask: ApprovalAsk) -> bool:
        if self.policy == "all":
            return True
        if self.policy == "none" or self.ask is None:
            return False
        # In a thread: the worker keeps answering the workflow while someone reads.
        return await asyncio.to_thread(self.ask, ask)

    def _report(
        self, fp: str, workflow_id: str, outcome: Outcome, reason: str, elapsed: timedelta
    ) -> DryRunReport:
        calls = [call for call in self.recorder.calls if call.workflow_id == workflow_id]
        others = [call for call in self.recorder.calls if call.workflow_id != workflow_id]
        children = [
            ChildPlan(
                workflow_id=child,
                playbook=self.recorder.workflow_types.get(child, ""),
                plan=build_plan(
                    [call for call in others if call.workflow_id == child],
                    self._answers.get(child, {}),
                ),
            )
            for child in dict.fromkeys(call.workflow_id for call in others)
        ]
        return DryRunReport(
            playbook=self.playbook.name,
            version=self.playbook.version,
            policy=self.policy,
            alert=AlertSummary(
                source=self.alert.source,
                kind=self.alert.kind.value,
                severity=self.alert.severity.value,
                title=self.alert.title,
            ),
            fingerprint=fp,
            workflow_id=workflow_id,
            outcome=outcome,
            reason=reason,
            workflow_time_seconds=elapsed.total_seconds(),
            plan=build_plan(calls, self._answers.get(workflow_id, {})),
            children=children,
            # Child workflows' calls are listed too, after the playbook's own.
            calls=[call for call in [*calls, *others] if call.activity != "record_timeline_event"],
            timeline=self.recorder.timeline.get(workflow_id, []),
        )


def rehearse(
    settings: Settings,
    playbooks: Mapping[str, type[Playbook]],
    chosen: type[Playbook],
    alert: Alert,
    policy: Policy,
    ask: Callable[[ApprovalAsk], bool] | None = None,
    restore: bool = False,
) -> DryRunReport:
    """Dry-run `chosen` (one of `playbooks`, the others being the children it may start)
    with the worker's sandbox and activity names, as `smokejumper playbooks dry-run` and the
    console do. Blocking, on its own event loop and Temporal runtime: run it in a thread
    beside another loop. Raises DryRunError when the rehearsal cannot run."""
    source = settings.sources.get(alert.source)
    run = DryRun(
        playbook=chosen,
        alert=alert,
        policy=policy,
        runner=sandboxed_runner(),
        playbooks=list(playbooks.values()),
        fingerprint_fields=source.fingerprint if source is not None else None,
        ask=ask,
        restore=restore,
    )
    try:
        return asyncio.run(run.run())
    except BinaryNotFound as exc:
        raise DryRunError(str(exc)) from None
    finally:
        # Drop the dry run's Temporal runtime now, while the interpreter is whole.
        del run
        gc.collect()


def _runtime() -> Runtime:
    """A runtime of its own, dropped with the dry run.

    The SDK core warns that the test server is older than it likes, which on a terminal
    reads like a problem with the playbook: only its errors are shown. And a runtime still
    alive when the interpreter exits can abort the process (temporalio/sdk-python#300), so
    the dry run does not use the process-wide one.
    """
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


def _reason(outcome: Outcome) -> str:
    return {
        "finished": "the playbook finished",
        "aborted": "the playbook aborted and undid its steps",
        "failed": "the playbook failed and undid its steps",
        "incomplete": "the playbook did not finish",
    }[outcome]


def build_plan(calls: Iterable[Call], answers: dict[str, _Answer]) -> list[PlanEntry]:
    """The playbook's calls read as steps, approvals, records and bare activities."""
    plan: list[PlanEntry] = []
    steps: dict[str, PlanEntry] = {}
    approvals: dict[str, PlanEntry] = {}
    for call in calls:
        if call.activity in FOLDED_ACTIVITIES - {"record_timeline_event"}:
            continue
        if call.activity != "record_timeline_event":
            entry = steps.get(call.step) if call.step is not None else None
            if entry is not None and entry.activity is None:
                entry.activity, entry.args = call.activity, call.args
            else:
                plan.append(
                    PlanEntry(
                        type="activity", name=call.activity, args=call.args, during=call.during
                    )
                )
            continue
        item = RehearsalEntry.model_validate(call.args[0])
        step = item.step or ""
        if item.kind == "step.started":
            steps[step] = PlanEntry(type="step", name=step, outcome="started")
            plan.append(steps[step])
        elif item.kind in {"step.completed", "step.failed"} and step in steps:
            entry = steps.pop(step)
            entry.outcome = item.kind.removeprefix("step.")
            if item.kind == "step.failed":
                entry.message = item.message
        elif item.kind == "approval.requested":
            ask = _ask_of(item)
            approvals[step] = PlanEntry(
                type="approval",
                name=step,
                outcome="pending",
                question=ask.question,
                approvers=ask.approvers,
                min_approvals=ask.min_approvals,
            )
            plan.append(approvals[step])
        elif item.kind in _DECIDED_KINDS and step in approvals:
            entry = approvals[step]
            entry.outcome = item.kind.removeprefix("approval.")
            answer = answers.get(step)
            if answer is not None and entry.outcome != "timed_out":
                entry.decided_by = answer.actors
            entry.message = item.message
        elif item.kind in _QUIET_KINDS or item.kind in TERMINAL_KINDS:
            continue
        else:
            plan.append(PlanEntry(type="record", name=item.kind, message=item.message))
    return plan


def _arguments(args: list[Any] | None) -> str:
    return ", ".join(json.dumps(arg, sort_keys=True, default=str) for arg in args or [])


def render(report: DryRunReport) -> str:
    """The report for a terminal."""
    alert = report.alert
    lines = [
        f"Dry run of playbook {report.playbook} (version {report.version}), "
        f"approvals: {report.policy}",
        f"Alert: {alert.kind}, severity {alert.severity}, from {alert.source}: "
        f"{json.dumps(alert.title)}",
        f"Incident: fingerprint {report.fingerprint}, workflow {report.workflow_id}",
        "",
    ]
    if not report.plan:
        lines.append("  (the playbook did nothing)")
    for number, entry in enumerate(report.plan, start=1):
        lines.append(f"  {number}. {_describe(entry)}")
    for child in report.children:
        lines += ["", f"  Child workflow {child.workflow_id} (playbook {child.playbook}):"]
        for number, entry in enumerate(child.plan, start=1):
            lines.append(f"    {number}. {_describe(entry)}")
    elapsed = timedelta(seconds=round(report.workflow_time_seconds))
    lines += [
        "",
        f"Outcome: {report.outcome} — {report.reason} (after {elapsed} of workflow time).",
        "Activities were recorded, not run: nothing outside was called, no database opened.",
    ]
    return "\n".join(lines)


_CHANGES = {"set_incident_status": "status", "set_incident_severity": "severity"}


def _describe(entry: PlanEntry) -> str:
    if entry.type == "step":
        if entry.activity is None:
            text = f"step {entry.name!r} → {entry.outcome} (in parallel: its call is listed apart)"
        else:
            text = f"step {entry.name!r}: {entry.activity}({_arguments(entry.args)})"
            text += f" → {entry.outcome}"
        return f"{text}: {entry.message}" if entry.message else text
    if entry.type == "approval":
        asked = (
            f"approval {entry.name!r}: {entry.question} "
            f"[approvers {entry.approvers}; {entry.min_approvals} needed]"
        )
        outcome = (entry.outcome or "pending").replace("_", " ")
        if entry.decided_by:
            return f"{asked} → {outcome} by {', '.join(entry.decided_by)}"
        return f"{asked} → {outcome}"
    if entry.type == "record":
        return f"record {entry.name}: {entry.message}"
    field = _CHANGES.get(entry.name)
    if field is not None and entry.args and isinstance(entry.args[0], dict):
        return f"{field} → {entry.args[0].get(field)}"
    text = f"activity {entry.name}({_arguments(entry.args)})"
    if entry.during:
        text += f" (during parallel steps {', '.join(repr(step) for step in entry.during)})"
    return text
