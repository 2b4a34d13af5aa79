"""Fake providers: activities that record what a playbook asked for instead of doing it."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from pydantic import TypeAdapter
from temporalio import activity
from temporalio.exceptions import ApplicationError

from smokejumper.contracts.base import Contract, Rehearsal

# One counter for every fake, so calls to several providers can be merged in call order.
_sequence = itertools.count()
_sequence_lock = threading.Lock()


class Call(NamedTuple):
    """One activity call: its name and its argument as the activity received it (decoded
    from JSON, so a pydantic model arrives as a dict)."""

    activity: str
    arg: Any


class FakeProvider:
    """Answers the named activities, records every call, and returns what it is told to.

        fake = FakeProvider(REVOKE_KEY, RESTORE_KEY, results={REVOKE_KEY: result})

    Activities are named by contract (or by name, for an activity of the author's own).

    A result may be a value or a function of the argument; by default an activity returns
    its argument (so an undo receives what the step was given), or, when its contract
    returns another type, the contract's rehearsed answer (containment done and confirmed).
    `failures` makes an activity fail without retries, which fails the step at once.
    """

    def __init__(
        self,
        *activities: str | Contract[Any, Any],
        results: Mapping[str | Contract[Any, Any], Any] | None = None,
        failures: Mapping[str | Contract[Any, Any], str] | None = None,
    ) -> None:
        named = tuple(_name(name) for name in activities)
        self._contracts = {c.name: c for c in activities if isinstance(c, Contract)}
        answers = {_name(name): value for name, value in (results or {}).items()}
        failing = {_name(name): value for name, value in (failures or {}).items()}
        unknown = (set(answers) | set(failing)) - set(named)
        if unknown:
            raise ValueError(f"results or failures for activities not named: {sorted(unknown)}")
        if not named:
            raise ValueError("a FakeProvider needs at least one activity name")
        self.names = tuple(dict.fromkeys(named))
        self._results: dict[str, Any] = dict(answers)
        self._failures: dict[str, str] = dict(failing)
        self._calls: list[tuple[int, Call]] = []
        self._activities = [self._activity(name) for name in self.names]

    @property
    def calls(self) -> list[Call]:
        """Every call so far, oldest first."""
        return [call for _, call in self._calls]

    def returns(self, name: str | Contract[Any, Any], result: Any) -> None:
        """From now on `name` returns `result` (a value, or a function of the argument)."""
        name = _name(name)
        self._check(name)
        self._results[name] = result
        self._failures.pop(name, None)

    def fails(self, name: str | Contract[Any, Any], message: str) -> None:
        """From now on `name` fails, without retries, with `message`."""
        name = _name(name)
        self._check(name)
        self._failures[name] = message

    def activities(self) -> list[Callable[..., Any]]:
        """The activity functions to register on a worker."""
        return list(self._activities)

    def _default(self, name: str, arg: Any) -> Any:
        """The argument back, unless the activity's contract returns another type: then the
        contract's rehearsed answer (containment done and confirmed)."""
        contract = self._contracts.get(name)
        if contract is None or contract.result is contract.arg:
            return arg
        typed = TypeAdapter(contract.arg).validate_python(arg)
        return contract.answer(typed, Rehearsal())

    def _check(self, name: str) -> None:
        if name not in self.names:
            raise ValueError(f"{name!r} is not one of this fake's activities {self.names}")

    def _activity(self, name: str) -> Callable[..., Any]:
        async def fake(arg: Any = None) -> Any:
            with _sequence_lock:
                self._calls.append((next(_sequence), Call(name, arg)))
            if name in self._failures:
                raise ApplicationError(self._failures[name], non_retryable=True)
            result = self._results.get(name, _ECHO)
            if result is _ECHO:
                return self._default(name, arg)
            return result(arg) if callable(result) else result

        fake.__name__ = fake.__qualname__ = f"fake_{name}"
        return activity.defn(name=name)(fake)


_ECHO = object()


def _name(activity: str | Contract[Any, Any]) -> str:
    return activity.name if isinstance(activity, Contract) else activity


def merged_calls(providers: Iterable[object]) -> list[Call]:
    """The calls of every FakeProvider among `providers`, in the order they were made."""
    entries = [
        entry
        for provider in providers
        if isinstance(provider, FakeProvider)
        for entry in provider._calls
    ]
    return [call for _, call in sorted(entries, key=lambda entry: entry[0])]


def activities_of(provider: object) -> list[Callable[..., Any]]:
    """The activities a provider offers: a FakeProvider's, an activity function itself, or
    the `@activity.defn` methods of any other object."""
    if isinstance(provider, FakeProvider):
        return provider.activities()
    if callable(provider) and activity._Definition.from_callable(provider) is not None:
        return [provider]
    found: list[Callable[..., Any]] = []
    for attribute in dir(provider):
        if attribute.startswith("__"):
            continue
        member = getattr(provider, attribute)
        if callable(member) and activity._Definition.from_callable(member) is not None:
            found.append(member)
    if not found:
        raise TypeError(f"{provider!r} offers no @activity.defn functions or methods")
    return found
