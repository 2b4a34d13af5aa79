"""SEC Form 8-K Item 1.05: the end of the fourth business day after the materiality
determination, counted in US Eastern time, skipping weekends and US federal holidays; and
each kind of clock accepted only from the event its rule counts from."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from smokejumper.sdk.clocks import (
    US_EASTERN,
    ClockBasis,
    ClockKind,
    ClockSpec,
    deadline_for,
    is_us_business_day,
)

NEW_YORK = US_EASTERN
BERLIN = ZoneInfo("Europe/Berlin")


def end_of(day: date) -> datetime:
    """23:59:59 in New York on `day`, in UTC."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=NEW_YORK).astimezone(UTC)


# (why, when the incident was determined material, the last day to file)
TABLE: list[tuple[str, datetime, date]] = [
    (
        "a Monday: Tue, Wed, Thu, Fri",
        datetime(2026, 11, 30, 10, 0, tzinfo=NEW_YORK),
        date(2026, 12, 4),
    ),
    (
        "a Friday: the weekend is skipped",
        datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        date(2026, 12, 3),
    ),
    (
        "a Saturday: counting starts on Monday",
        datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
        date(2026, 12, 3),
    ),
    (
        "before Thanksgiving (Thu 26 Nov)",
        datetime(2026, 11, 24, 14, 0, tzinfo=NEW_YORK),
        date(2026, 12, 1),
    ),
    (
        "on Thanksgiving itself",
        datetime(2026, 11, 26, 11, 0, tzinfo=NEW_YORK),
        date(2026, 12, 2),
    ),
    (
        "before Christmas (Fri 25 Dec)",
        datetime(2026, 12, 22, 9, 0, tzinfo=NEW_YORK),
        date(2026, 12, 29),
    ),
    (
        "across New Year's Day (Fri 1 Jan 2027) into the next year",
        datetime(2026, 12, 30, 16, 0, tzinfo=NEW_YORK),
        date(2027, 1, 6),
    ),
    (
        "before Independence Day, observed on Friday 3 July (the 4th is a Saturday)",
        datetime(2026, 6, 30, 9, 0, tzinfo=NEW_YORK),
        date(2026, 7, 7),
    ),
    (
        "before Juneteenth (Fri 19 June)",
        datetime(2026, 6, 17, 9, 0, tzinfo=NEW_YORK),
        date(2026, 6, 24),
    ),
    (
        "before Martin Luther King Jr. Day (Mon 18 Jan 2027)",
        datetime(2027, 1, 15, 9, 0, tzinfo=NEW_YORK),
        date(2027, 1, 22),
    ),
    (
        "a Monday evening in New York that is Tuesday in UTC counts from Monday",
        datetime(2026, 12, 1, 2, 30, tzinfo=UTC),
        date(2026, 12, 4),
    ),
    (
        "given in Berlin time, counted in New York",
        datetime(2026, 12, 1, 3, 0, tzinfo=BERLIN),
        date(2026, 12, 4),
    ),
    (
        "across the start of daylight saving (Sun 8 Mar): the deadline is in EDT",
        datetime(2026, 3, 5, 10, 0, tzinfo=NEW_YORK),
        date(2026, 3, 11),
    ),
    (
        "across the end of daylight saving (Sun 1 Nov): the deadline is in EST",
        datetime(2026, 10, 28, 10, 0, tzinfo=NEW_YORK),
        date(2026, 11, 3),
    ),
    (
        "Friday 23:30 EDT is Saturday in UTC, across the end of daylight saving",
        datetime(2026, 10, 31, 3, 30, tzinfo=UTC),
        date(2026, 11, 5),
    ),
]


@pytest.mark.parametrize(("why", "determined", "last_day"), TABLE, ids=[t[0] for t in TABLE])
def test_the_8k_deadline_is_the_end_of_the_fourth_business_day(
    why: str, determined: datetime, last_day: date
) -> None:
    deadline = deadline_for(ClockKind.SEC_8K_ITEM_105, determined, None)
    assert deadline == end_of(last_day), why
    assert deadline.tzinfo is UTC


def test_the_end_of_day_follows_daylight_saving() -> None:
    # 23:59:59 in New York is 03:59:59 UTC in summer time and 04:59:59 in winter time.
    spring = deadline_for(ClockKind.SEC_8K_ITEM_105, datetime(2026, 3, 5, 15, tzinfo=UTC), None)
    autumn = deadline_for(ClockKind.SEC_8K_ITEM_105, datetime(2026, 10, 28, 14, tzinfo=UTC), None)
    assert spring == datetime(2026, 3, 12, 3, 59, 59, tzinfo=UTC)
    assert autumn == datetime(2026, 11, 4, 4, 59, 59, tzinfo=UTC)


def test_federal_holidays_and_weekends_are_not_business_days() -> None:
    assert not is_us_business_day(date(2026, 11, 26))  # Thanksgiving
    assert not is_us_business_day(date(2026, 7, 3))  # Independence Day, observed
    assert not is_us_business_day(date(2027, 12, 31))  # New Year's Day 2028, observed
    assert not is_us_business_day(date(2026, 11, 28))  # a Saturday
    assert is_us_business_day(date(2026, 11, 27))  # the Friday after Thanksgiving
    assert is_us_business_day(date(2026, 12, 24))  # Christmas Eve is not a federal holiday


@given(
    st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2035, 12, 31),
        timezones=st.just(UTC),
    )
)
def test_any_determination_gets_four_whole_business_days(determined: datetime) -> None:
    deadline = deadline_for(ClockKind.SEC_8K_ITEM_105, determined, None)
    local = deadline.astimezone(NEW_YORK)
    assert local.time() == time(23, 59, 59)
    assert is_us_business_day(local.date())
    day, counted = determined.astimezone(NEW_YORK).date(), 0
    while day < local.date():
        day += timedelta(days=1)
        counted += is_us_business_day(day)
    assert counted == 4


@pytest.mark.parametrize(
    ("kind", "basis", "message"),
    [
        (ClockKind.GDPR_ART33, ClockBasis.DETERMINATION, "runs from the awareness"),
        (ClockKind.GDPR_ART33, ClockBasis.DISCOVERY, "runs from the awareness"),
        (ClockKind.EU_AI_ACT_ART73_DEATH, ClockBasis.DETERMINATION, "runs from the awareness"),
        (ClockKind.SEC_8K_ITEM_105, ClockBasis.AWARENESS, "runs from the determination"),
        (ClockKind.SEC_8K_ITEM_105, ClockBasis.DISCOVERY, "runs from the determination"),
    ],
)
def test_a_clock_from_the_wrong_event_is_refused(
    kind: ClockKind, basis: ClockBasis, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ClockSpec(kind=kind, basis=basis, started_at=datetime(2026, 11, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("kind", "basis"),
    [
        (ClockKind.GDPR_ART33, ClockBasis.AWARENESS),
        (ClockKind.EU_AI_ACT_ART73, ClockBasis.AWARENESS),
        (ClockKind.EU_AI_ACT_ART73_WIDESPREAD, ClockBasis.AWARENESS),
        (ClockKind.SEC_8K_ITEM_105, ClockBasis.DETERMINATION),
        (ClockKind.CUSTOM, ClockBasis.DISCOVERY),
    ],
)
def test_a_clock_from_its_own_event_starts(kind: ClockKind, basis: ClockBasis) -> None:
    spec = ClockSpec(
        kind=kind,
        basis=basis,
        started_at=datetime(2026, 11, 30, tzinfo=UTC),
        duration=timedelta(days=1) if kind is ClockKind.CUSTOM else None,
    )
    assert spec.deadline > spec.started_at
