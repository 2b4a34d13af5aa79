"""`@playbook`: makes a Playbook subclass a Temporal workflow, with the handlers every
playbook has (alerts, decisions, close, abort, restore, clocks, state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, get_type_hints

from temporalio import workflow

from smokejumper.domain.incidents import (
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
    ClockView,
    CloseRequest,
    IncidentStart,
    IncidentState,
    RestoreRequest,
)
from smokejumper.sdk.approvals import ChildApproval, DecisionRequest, VoteReceipt
from smokejumper.sdk.clocks import StopClock
from smokejumper.sdk.lifecycle import Lifecycle
from smokejumper.sdk.run_state import RunState

P = TypeVar("P", bound=Lifecycle)


def playbook(cls: type[P]) -> type[P]:
    """Make a Playbook subclass a Temporal workflow named `cls.name`."""
    if not getattr(cls, "name", None):
        raise TypeError(f"{cls.__name__} needs a `name`")
    if cls.respond is RunState.respond:
        raise TypeError(f"{cls.__name__} needs a `respond` method")

    def __init__(self: Lifecycle, start: IncidentStart) -> None:
        RunState.__init__(self, start)

    async def run(self: Lifecycle, start: IncidentStart) -> IncidentState:
        return await self._execute(start)

    async def alert(self: Lifecycle, attached: AlertAttached) -> None:
        self._alert(attached)

    async def alerts(self: Lifecycle, batch: AlertsAttached) -> None:
        for attached in batch.alerts:
            self._alert(attached)

    async def decide(self: Lifecycle, request: DecisionRequest) -> VoteReceipt:
        return await self._decide(request)

    def validate_decide(self: Lifecycle, request: DecisionRequest) -> None:
        self._validate_decide(request)

    async def decide_signal(self: Lifecycle, request: DecisionRequest) -> None:
        await self._decide_signal(request)

    async def child_approval_signal(self: Lifecycle, message: ChildApproval) -> None:
        await self._child_approval_signal(message)

    async def close(self: Lifecycle, request: CloseRequest) -> IncidentState:
        return await self._close(request)

    def validate_close(self: Lifecycle, request: CloseRequest) -> None:
        self._validate_close(request)

    def query_state(self: Lifecycle) -> IncidentState:
        return self.state()

    async def stop_clock(self: Lifecycle, request: StopClock) -> ClockView:
        return await self._stop_clock(request)

    def validate_stop_clock(self: Lifecycle, request: StopClock) -> None:
        problem = self._clock_refusal(request)
        if problem is not None:
            raise ValueError(problem)

    async def stop_clock_signal(self: Lifecycle, request: StopClock) -> None:
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

    async def restore(self: Lifecycle, request: RestoreRequest) -> IncidentState:
        return await self._restore(request)

    def validate_restore(self: Lifecycle, request: RestoreRequest) -> None:
        self._validate_restore(request)

    async def abort(self: Lifecycle, request: AbortRequest) -> IncidentState:
        return await self._abort(request)

    def validate_abort(self: Lifecycle, request: AbortRequest) -> None:
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
