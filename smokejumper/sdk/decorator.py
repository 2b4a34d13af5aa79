"""`@playbook`: makes a Playbook subclass a Temporal workflow, with the handlers every
playbook has (alerts, decisions, close, abort, restore, clocks, tasks, state)."""

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
from smokejumper.domain.tasks import SIGNAL_TASK_DONE, TaskDone
from smokejumper.sdk.approvals import ChildApproval, DecisionRequest, VoteReceipt
from smokejumper.sdk.clocks import StopClock
from smokejumper.sdk.lifecycle import Lifecycle
from smokejumper.sdk.run_state import RunState
from smokejumper.sdk.task_runner import Tasks

P = TypeVar("P", bound=Lifecycle)


def playbook(cls: type[P]) -> type[P]:
    """Make a Playbook subclass a Temporal workflow named `cls.name`."""
    if not getattr(cls, "name", None):
        raise TypeError(f"{cls.__name__} needs a `name`")
    if cls.respond is RunState.respond:
        raise TypeError(f"{cls.__name__} needs a `respond` method")
    handlers = _handlers()
    for attribute, function in handlers.items():
        _place(cls, attribute, function)
    for attribute, wrapped in _as_temporal(handlers).items():
        setattr(cls, attribute, wrapped)
    return workflow.defn(name=cls.name)(cls)


def _handlers() -> dict[str, Callable[..., Any]]:
    """Fresh functions for one class: each delegates to the runtime, and is named and
    annotated for that class below (Temporal reads both)."""

    def __init__(self: Lifecycle, start: IncidentStart) -> None:
        RunState.__init__(self, start)

    async def run(self: Lifecycle, start: IncidentStart) -> IncidentState:
        return await self._execute(start)

    async def alert_signal(self: Lifecycle, attached: AlertAttached) -> None:
        self._alert(attached)

    async def alerts_signal(self: Lifecycle, batch: AlertsAttached) -> None:
        for attached in batch.alerts:
            self._alert(attached)

    async def decide_update(self: Lifecycle, request: DecisionRequest) -> VoteReceipt:
        return await self._decide(request)

    def validate_decide(self: Lifecycle, request: DecisionRequest) -> None:
        self._validate_decide(request)

    async def decide_signal(self: Lifecycle, request: DecisionRequest) -> None:
        await self._decide_signal(request)

    async def child_approval_signal(self: Lifecycle, message: ChildApproval) -> None:
        await self._child_approval_signal(message)

    async def close_update(self: Lifecycle, request: CloseRequest) -> IncidentState:
        return await self._close(request)

    def validate_close(self: Lifecycle, request: CloseRequest) -> None:
        self._validate_close(request)

    def query_state(self: Lifecycle) -> IncidentState:
        return self.state()

    async def stop_clock_update(self: Lifecycle, request: StopClock) -> ClockView:
        return await self._stop_clock(request)

    def validate_stop_clock(self: Lifecycle, request: StopClock) -> None:
        self._validate_stop_clock(request)

    async def stop_clock_signal(self: Lifecycle, request: StopClock) -> None:
        await self._stop_clock_signal(request)

    async def task_done_signal(self: Tasks, done: TaskDone) -> None:
        self._task_done(done)

    async def restore_update(self: Lifecycle, request: RestoreRequest) -> IncidentState:
        return await self._restore(request)

    def validate_restore(self: Lifecycle, request: RestoreRequest) -> None:
        self._validate_restore(request)

    async def abort_update(self: Lifecycle, request: AbortRequest) -> IncidentState:
        return await self._abort(request)

    def validate_abort(self: Lifecycle, request: AbortRequest) -> None:
        self._validate_abort(request)

    return {function.__name__: function for function in locals().values()}


def _place(cls: type, attribute: str, function: Callable[..., Any]) -> None:
    # Temporal accepts only handlers that look defined on the class, and resolves their
    # annotations in the class's module, where the message types may not be imported.
    # `self` must stay unannotated, or Temporal counts it as the first argument.
    hints = get_type_hints(function)
    hints.pop("self", None)
    function.__annotations__ = hints
    function.__qualname__ = f"{cls.__qualname__}.{attribute}"
    function.__module__ = cls.__module__


def _as_temporal(raw: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """The handlers as Temporal sees them: init, run, signals, the query, and updates with
    their validators."""
    handlers: dict[str, Callable[..., Any]] = {
        "__init__": workflow.init(raw["__init__"]),
        "run": workflow.run(raw["run"]),
        "query_state": workflow.query(name=QUERY_STATE)(raw["query_state"]),
    }
    signals = {
        "alert_signal": SIGNAL_ALERT,
        "alerts_signal": SIGNAL_ALERTS,
        "decide_signal": SIGNAL_DECIDE,
        "child_approval_signal": SIGNAL_CHILD_APPROVAL,
        "stop_clock_signal": SIGNAL_STOP_CLOCK,
        "task_done_signal": SIGNAL_TASK_DONE,
    }
    for attribute, name in signals.items():
        handlers[attribute] = workflow.signal(name=name)(raw[attribute])
    updates = {
        "decide_update": (UPDATE_DECIDE, "validate_decide"),
        "close_update": (UPDATE_CLOSE, "validate_close"),
        "stop_clock_update": (UPDATE_STOP_CLOCK, "validate_stop_clock"),
        "restore_update": (UPDATE_RESTORE, "validate_restore"),
        "abort_update": (UPDATE_ABORT, "validate_abort"),
    }
    for attribute, (name, validator) in updates.items():
        update = workflow.update(name=name)(raw[attribute])
        update.validator(raw[validator])
        handlers[attribute] = update
    return handlers
