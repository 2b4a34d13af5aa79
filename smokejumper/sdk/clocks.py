"""Regulatory clocks: deadlines that start at an explicit event and must be met by a filing.

- GDPR Art. 33: notify the supervisory authority within 72 hours of becoming aware.
- EU AI Act Art. 73: report a serious incident within 15 days of awareness; 2 days for a
  widespread infringement or one affecting critical infrastructure; 10 days for a death.
- SEC Form 8-K Item 1.05: by the end of the fourth business day after the incident is
  determined to be material. Business days are counted in US Eastern time (the SEC's), and
  skip Saturdays, Sundays and US federal holidays (observed dates included).
- Custom: any duration.

Each kind runs from the event its rule names (`ClockBasis`): GDPR and the AI Act from
awareness, the 8-K from the materiality determination; a clock started from another event
is refused, since its deadline would be wrong.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
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

# The event each kind's rule counts from; a custom clock may count from any.
_BASES: dict[ClockKind, frozenset[ClockBasis]] = {
    ClockKind.GDPR_ART33: frozenset({ClockBasis.AWARENESS}),
    ClockKind.EU_AI_ACT_ART73: frozenset({ClockBasis.AWARENESS}),
    ClockKind.EU_AI_ACT_ART73_WIDESPREAD: frozenset({ClockBasis.AWARENESS}),
    ClockKind.EU_AI_ACT_ART73_DEATH: frozenset({ClockBasis.AWARENESS}),
    ClockKind.SEC_8K_ITEM_105: frozenset({ClockBasis.DETERMINATION}),
    ClockKind.CUSTOM: frozenset(ClockBasis),
}

DEFAULT_REMINDERS = (timedelta(hours=24), timedelta(hours=4))

# SEC filing days are counted in Eastern time, whatever the filer's own zone.
US_EASTERN = ZoneInfo("America/New_York")
SEC_8K_BUSINESS_DAYS = 4


@lru_cache(maxsize=32)
def _us_federal_holidays(year: int) -> frozenset[date]:
    # Observed dates included (a Saturday holiday is taken on the Friday before); cached
    # because a running clock's deadline is asked for on every reminder and every query.
    return frozenset(holidays.country_holidays("US", years=year, observed=True))


# `holidays` loads its country tables (and dateutil) on first use. Used first here, at
# import, not inside the workflow sandbox, which would re-import them under its
# restrictions and refuse their calls to the local clock.
_us_federal_holidays(2026)


def is_us_business_day(day: date) -> bool:
    """Not a Saturday, a Sunday or a US federal holiday."""
    return day.weekday() < 5 and day not in _us_federal_holidays(day.year)


def add_business_days(start: datetime, days: int) -> datetime:
    """The end (23:59:59 US Eastern) of the `days`-th US business day after the day, in
    Eastern time, of `start`; returned in UTC. The day of `start` itself never counts, and
    a start on a weekend or holiday counts from the next business day."""
    day = start.astimezone(US_EASTERN).date()
    added = 0
    while added < days:
        day += timedelta(days=1)
        if is_us_business_day(day):
            added += 1
    # Combined with the zone, not shifted by 24 h: the end of a day is 23:59:59 local time
    # on either side of a daylight-saving change.
    return datetime.combine(day, time(23, 59, 59), tzinfo=US_EASTERN).astimezone(UTC)


def deadline_for(kind: ClockKind, started_at: datetime, duration: timedelta | None) -> datetime:
    if kind is ClockKind.CUSTOM:
        if duration is None:
            raise ValueError("a custom clock needs a duration")
        return started_at + duration
    if kind is ClockKind.SEC_8K_ITEM_105:
        return add_business_days(started_at, SEC_8K_BUSINESS_DAYS)
    return started_at + _FIXED[kind]


def check_basis(kind: ClockKind, basis: ClockBasis) -> None:
    """Raise ValueError when `kind` does not run from `basis`."""
    allowed = _BASES[kind]
    if basis not in allowed:
        wanted = " or ".join(sorted(b.value for b in allowed))
        raise ValueError(f"a {kind.value} clock runs from the {wanted}, not from the {basis.value}")


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
        check_basis(self.kind, self.basis)
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
