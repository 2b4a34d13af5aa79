"""The dry run's answers to the built-in contracts: typed values computed from the
rehearsed alert or the call's own argument, never from a provider."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from smokejumper.assessment import categories_of, context_of, leak_of
from smokejumper.contracts.base import Rehearsal
from smokejumper.domain.alerts import Alert
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.response import IncidentContext, KeyRef, LeakAssessment
from smokejumper.leakage import LeakClassifier

REHEARSED = "rehearsed"


class _Action(Protocol):
    incident_id: int
    step: str | None

    @property
    def business_key(self) -> str: ...


def _target(action: _Action) -> str:
    for attribute in ("target", "key_id", "endpoint", "rule_id", "document"):
        value = getattr(action, attribute, None)
        if isinstance(value, str):
            return value
    return action.business_key


def rehearsed_action(name: str) -> Callable[[_Action, Rehearsal], ActionResult]:
    """A containment action as if its provider had done and confirmed it."""

    def answer(action: _Action, _: Rehearsal) -> ActionResult:
        return ActionResult(
            incident_id=action.incident_id,
            step=action.step,
            provider=str(getattr(action, "provider", "rehearsal")),
            key_id=_target(action),
            endpoint=getattr(action, "endpoint", None),
            business_key=action.business_key,
            action=name,
            status=REHEARSED,
            verified=True,
        )

    return answer


def _alert(rehearsal: Rehearsal) -> Alert:
    if rehearsal.alert is None:
        raise ValueError("answering what the alerts say needs the rehearsed alert")
    return rehearsal.alert


def rehearsed_context(incident_id: int, rehearsal: Rehearsal) -> IncidentContext:
    """What the incident's context would say, from the alert alone (no store)."""
    alert = _alert(rehearsal)
    return context_of(
        incident_id=incident_id,
        ref=rehearsal.ref,
        kind=alert.kind.value,
        severity=alert.severity.value,
        alerts=[alert.model_dump(mode="json")],
    )


def rehearsed_leak(incident_id: int, rehearsal: Rehearsal) -> LeakAssessment:
    """What the leak assessment would classify, from the alert alone."""
    alert = _alert(rehearsal)
    counts, key_ids, elicited = leak_of(
        alert.kind.value, [alert.model_dump(mode="json")], LeakClassifier()
    )
    return LeakAssessment(
        incident_id=incident_id,
        categories=categories_of(counts),
        kinds=sorted(counts),
        keys=[KeyRef(provider="aws_iam", key_id=key_id) for key_id in sorted(key_ids)],
        elicited=elicited,
    )
