"""Regulatory clocks: deadlines that start at an explicit event and must be met by a filing.

- GDPR Art. 33: notify the supervisory authority within 72 hours of becoming aware.
- EU AI Act Art. 73: report a serious incident within 15 days of awareness; 2 days for a
  widespread infringement or one affecting critical infrastructure; 10 days for a death.
- SEC Form 8-K Item 1.05: within 4 business days of determining the incident is material.
- Custom: any duration.

Business days skip Saturdays and Sundays only; public holidays are not modelled, so an
8-K deadline computed here is never later than the true one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from smokejumper.domain.incidents import ClockView


class ClockKind(StrEnum):
    GDPR_ART33 = "gdpr-art33"
    EU_AI_ACT_ART73 = "eu-ai-act-art73"
    EU_AI_ACT_ART73_WIDESPREAD = "eu-ai-act-art73-widespread"
    EU_AI_ACT_ART73_DEATH = "eu-ai-act-art73-death"
    SEC_8K_ITEM_105 = "sec-8k-item1.05"
    CUSTOM = "custom"


class ClockBasis(StrEnum):
    """The event the clock runs from: regulations count from different moments."""

    AWARENESS = "awareness"
    DISCOVERY = "discovery"
    DETERMINATION = "determination"


_FIXED: dict[ClockKind, timedelta] = {
    ClockKind.GDPR_ART33: timedelta(hours=72),
    ClockKind.EU_AI_ACT_ART73: timedelta(days=15),
    ClockKind.EU_AI_ACT_ART73_WIDESPREAD: timedelta(days=2),
    ClockKind.EU_AI_ACT_ART73_DEATH: timedelta(days=10),
}

DEFAULT_REMINDERS = (timedelta(hours=24), timedelta(hours=4))


def add_business_days(start: datetime, days: int) -> datetime:
    moment = start
    added = 0
    while added < days:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            added += 1
    return moment


def deadline_for(kind: ClockKind, started_at: datetime, duration: timedelta | None) -> datetime:
    if kind is ClockKind.CUSTOM:
        if duration is None:
            raise ValueError("a custom clock needs a duration")
        return started_at + duration
    if kind is ClockKind.SEC_8K_ITEM_105:
        return add_business_days(started_at, 4)
    return started_at + _FIXED[kind]


class ClockSpec(BaseModel):
    kind: ClockKind
    basis: ClockBasis
    started_at: datetime = Field(description="When the basis event happened (not 'now').")
    duration: timedelta | None = None
    label: str = ""
    reminders: list[timedelta] = Field(default_factory=lambda: list(DEFAULT_REMINDERS))
    escalate_to: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid(self) -> ClockSpec:
        if self.started_at.tzinfo is None:
            raise ValueError("started_at must carry a timezone")
        if any(reminder <= timedelta(0) for reminder in self.reminders):
            raise ValueError("reminders are durations before the deadline, all positive")
        deadline_for(self.kind, self.started_at, self.duration)
        return self

    @property
    def deadline(self) -> datetime:
        return deadline_for(self.kind, self.started_at, self.duration)

    @property
    def name(self) -> str:
        return self.label or self.kind.value


class StopClock(BaseModel):
    """Filing made: who filed, when, and a reference (case number, filing id)."""

    clock: str = Field(min_length=1, max_length=100)
    actor: str = Field(min_length=1, max_length=200)
    filed_at: datetime
    reference: str = Field(default="", max_length=500)


@dataclass
class RunningClock:
    """A clock as its playbook runs it: reminders sent, breach, and the filing."""

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
