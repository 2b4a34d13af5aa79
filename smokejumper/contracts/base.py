"""The typed activity contract: an activity declared once — name, argument, result, undo,
retry class and the dry run's answer — called by playbooks and implemented by a worker.

    REVOKE_KEY = Contract("revoke_key", KeyAction, ActionResult, undo=RESTORE_KEY,
                          rehearse=rehearsed_action("revoke_key"))

    result = await self.step("revoke key", REVOKE_KEY, action)   # ActionResult | None

    class ContainmentActivities:
        @REVOKE_KEY.implementation
        async def revoke_key(self, action: KeyAction) -> ActionResult: ...

Playbooks never name an activity by string, and mypy follows a step to its result type.
The worker refuses to start unless every contract has exactly one implementation
(`check_implementations`), and a dry run answers each contract with its typed fake.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar, get_type_hints

from pydantic import BaseModel, ValidationError
from temporalio import activity, workflow
from temporalio.common import Priority, RetryPolicy

from smokejumper.domain.alerts import Alert
from smokejumper.temporal.policies import STORE_RETRY, STORE_TIMEOUT

A = TypeVar("A")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True)
class RetryClass:
    """How a contract's activity is retried and timed: one name per kind of work, so a
    playbook never spells out a policy for an ordinary step."""

    name: str
    policy: RetryPolicy
    timeout: timedelta
    heartbeat: timedelta | None = None


# Containment calls outside systems: transient errors retry with backoff for about two
# minutes; errors a retry cannot help (credentials, access, configuration, not found) are
# non-retryable and fail at once. Either way a failed step is handed to people. The short
# timeout lets a step whose worker was killed be attempted again by another worker within
# seconds (its action row makes the second attempt finish the first's work, not redo it).
CONTAINMENT = RetryClass(
    "containment",
    RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=8,
    ),
    timedelta(seconds=20),
)
# Writes to our own store (timeline, status, audit): a database blip must not fail an
# incident, so they retry patiently.
STORE = RetryClass("store", STORE_RETRY, STORE_TIMEOUT)


class ContractError(Exception):
    """A contract is declared twice differently, or its implementations do not match it."""


@dataclass(frozen=True)
class Rehearsal:
    """What a dry run knows when it answers a contract: the alert it rehearses (None for a
    test's fake provider), the incident's reference, and the stand-in approvers every
    approval may count."""

    alert: Alert | None = None
    ref: str = "DRY-RUN"
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Contract(Generic[A, R]):
    """One activity's interface. `undo` takes the same argument and reverses the activity;
    `rehearse` is the dry run's answer (without one, the result type's empty value)."""

    name: str
    arg: type[A]
    result: type[R]
    undo: Contract[A, Any] | None = None
    retry: RetryClass = CONTAINMENT
    rehearse: Callable[[A, Rehearsal], R] | None = None
    description: str = ""
    # Reads the incident's timeline or audit log (the report): its step waits until every
    # entry the run has counted is written (a vote's are written just after it applies).
    reads_timeline: bool = False

    def __post_init__(self) -> None:
        if self.rehearse is None:
            empty_value(self.result, self.name)  # raises when the result has no empty value

    def answer(self, arg: A, rehearsal: Rehearsal) -> R:
        """The dry run's typed answer to a call with `arg`."""
        if self.rehearse is not None:
            return self.rehearse(arg, rehearsal)
        value: R = empty_value(self.result, self.name)
        return value

    async def execute(
        self,
        arg: A,
        *,
        retry: RetryPolicy | None = None,
        timeout: timedelta | None = None,
        heartbeat: timedelta | None = None,
        priority: Priority | None = None,
        task_queue: str | None = None,
    ) -> R:
        """Run the activity from workflow code (a playbook's step does, through
        `self.step`), with the contract's retry class unless `retry`, `timeout` or
        `heartbeat` override it; at `priority`, else the workflow's; on `task_queue`, else
        the workflow's."""
        result: R = await workflow.execute_activity(
            self.name,
            arg,
            task_queue=task_queue,
            result_type=self.result,
            start_to_close_timeout=timeout or self.retry.timeout,
            heartbeat_timeout=heartbeat or self.retry.heartbeat,
            retry_policy=retry or self.retry.policy,
            priority=priority or Priority.default,
        )
        return result

    async def execute_local(self, arg: A) -> R:
        """Run the activity as a local activity (in this worker, inside the workflow task),
        with the contract's retry class: for work that must not wait for the server to
        dispatch it."""
        result: R = await workflow.execute_local_activity(
            self.name,
            arg,
            result_type=self.result,
            start_to_close_timeout=self.retry.timeout,
            retry_policy=self.retry.policy,
        )
        return result

    def implementation(self, function: F) -> F:
        """Declare `function` (an async activity method or function) this contract's
        implementation: it becomes the Temporal activity of the contract's name, and its
        annotated argument and result must be the contract's."""
        _check_signature(self, function)
        defined: F = activity.defn(name=self.name)(function)
        return defined


def _type_name(value: Any) -> str:
    return getattr(value, "__qualname__", None) or repr(value)


def _same_type(left: Any, right: Any) -> bool:
    if left is right or left == right:
        return True
    # A playbook module's types are imported again inside the workflow sandbox; they are
    # the same declaration when module and name agree.
    return bool(
        getattr(left, "__module__", None) == getattr(right, "__module__", object())
        and _type_name(left) == _type_name(right)
    )


def _check_signature(contract: Contract[Any, Any], function: Callable[..., Any]) -> None:
    hints = get_type_hints(function)
    parameters = [
        p for p in inspect.signature(function).parameters.values() if p.name not in {"self"}
    ]
    where = f"{function.__module__}.{function.__qualname__}"
    if len(parameters) != 1:
        raise ContractError(f"{where} implements {contract.name!r}: it must take one argument")
    given = hints.get(parameters[0].name)
    if not _same_type(given, contract.arg):
        raise ContractError(
            f"{where} implements {contract.name!r}: its argument is {_type_name(given)}, the "
            f"contract's is {_type_name(contract.arg)}"
        )
    returned = hints.get("return")
    # An implementation may promise more than the contract: `X` where it says `X | None`.
    narrower = isinstance(contract.result, types.UnionType) and any(
        _same_type(returned, member) for member in contract.result.__args__
    )
    if not (_same_type(returned, contract.result) or narrower):
        raise ContractError(
            f"{where} implements {contract.name!r}: it returns {_type_name(returned)}, the "
            f"contract's result is {_type_name(contract.result)}"
        )


def empty_value(result: Any, name: str = "") -> Any:
    """The empty value of a result type: None, False, 0, "", [] or {}, or a model built
    from its defaults. Raises ContractError when there is none (give `rehearse`)."""
    if result is None or result is type(None):
        return None
    if isinstance(result, types.UnionType) and type(None) in result.__args__:
        return None
    origin = getattr(result, "__origin__", None) or result
    if origin in (list, tuple, set, frozenset, dict):
        return origin()
    if origin in (bool, int, float, str):
        return origin()
    if isinstance(origin, type) and issubclass(origin, BaseModel):
        try:
            return origin()
        except ValidationError:
            pass
    raise ContractError(
        f"contract {name!r}: its result {_type_name(result)} has no empty value; give "
        "`rehearse=` the dry run's answer"
    )


def contracts_of(classes: Iterable[type]) -> list[Contract[Any, Any]]:
    """The contracts workflow classes can call, with their undos: every contract a method
    of theirs (or of a class they derive from) names, directly, through a module, or
    through a function of the module it calls. Raises ContractError when two different
    contracts carry one activity name."""
    found: dict[str, Contract[Any, Any]] = {}
    seen: set[types.CodeType] = set()

    def take(value: object) -> None:
        while isinstance(value, Contract):
            known = found.get(value.name)
            if known is not None:
                if not _same_declaration(known, value):
                    raise ContractError(
                        f"activity {value.name!r} is declared twice: "
                        f"{_signature(known)} and {_signature(value)}"
                    )
                return
            found[value.name] = value
            value = value.undo

    def visit(code: types.CodeType | None, scope: dict[str, Any]) -> None:
        if code is None or code in seen:
            return
        seen.add(code)
        for name in code.co_names:
            value = scope.get(name)
            take(value)
            if isinstance(value, types.ModuleType):
                for attribute in code.co_names:
                    take(getattr(value, attribute, None))
            elif isinstance(value, types.FunctionType):
                visit(value.__code__, value.__globals__)
        for constant in code.co_consts:
            if isinstance(constant, types.CodeType):
                visit(constant, scope)

    for cls in classes:
        for base in cls.__mro__:
            for value in vars(base).values():
                take(value)
                function = value.fget if isinstance(value, property) else value
                function = getattr(function, "__func__", function)
                if isinstance(function, types.FunctionType):
                    visit(function.__code__, function.__globals__)
    return sorted(found.values(), key=lambda contract: contract.name)


def _same_declaration(left: Contract[Any, Any], right: Contract[Any, Any]) -> bool:
    return left is right or (
        _same_type(left.arg, right.arg) and _same_type(left.result, right.result)
    )


def _signature(contract: Contract[Any, Any]) -> str:
    return f"({_type_name(contract.arg)}) -> {_type_name(contract.result)}"


def implemented_names(functions: Iterable[Callable[..., Any]]) -> list[str]:
    """The activity names `functions` register (one per function, dynamic ones left out)."""
    names: list[str] = []
    for function in functions:
        definition = activity._Definition.from_callable(function)
        if definition is not None and definition.name is not None:
            names.append(definition.name)
    return names


def check_implementations(
    functions: Iterable[Callable[..., Any]], contracts: Iterable[Contract[Any, Any]]
) -> None:
    """Refuse a worker whose activities do not implement every contract its workflows
    call exactly once (`contracts_of` finds those)."""
    names = implemented_names(functions)
    problems: list[str] = []
    for contract in contracts:
        count = names.count(contract.name)
        if count == 0:
            problems.append(f"{contract.name!r} has no implementation")
        elif count > 1:
            problems.append(f"{contract.name!r} has {count} implementations")
    if problems:
        raise ContractError("activity contracts not met: " + "; ".join(sorted(problems)))
