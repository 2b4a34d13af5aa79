"""Prometheus metrics computed from the store at scrape time.

Everything here lives in the database, so every API replica answers the same figures and a
restart loses nothing; no process keeps counters of its own. Each scrape runs a handful of
grouped queries (and reads the timestamp columns of incidents and approval events for the
histograms).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smokejumper.domain.alerts import Severity
from smokejumper.store.db import Store
from smokejumper.store.tables import Action, AlertRow, DeadLetter, Incident, TimelineEvent

# Seconds: 1, 5, 15 and 30 minutes, 1, 4, 12 hours, 1, 3 and 7 days.
DURATION_BUCKETS: tuple[float, ...] = (
    60,
    300,
    900,
    1800,
    3600,
    4 * 3600,
    12 * 3600,
    86400,
    3 * 86400,
    7 * 86400,
)
APPROVAL_DECIDED = ("approval.approved", "approval.denied", "approval.timed_out")


def histogram(
    name: str, documentation: str, values: Iterable[float], buckets: Sequence[float]
) -> HistogramMetricFamily:
    ordered = sorted(values)
    counts: list[tuple[str, float]] = []
    index = 0
    for bound in buckets:
        while index < len(ordered) and ordered[index] <= bound:
            index += 1
        counts.append((_bound(bound), float(index)))
    counts.append(("+Inf", float(len(ordered))))
    return HistogramMetricFamily(name, documentation, buckets=counts, sum_value=sum(ordered))


def _bound(value: float) -> str:
    return str(float(value))


@dataclass(frozen=True)
class ApprovalWaits:
    pending: list[float]
    decided: list[float]


def approval_waits(session: Session, now: datetime) -> ApprovalWaits:
    """From the timeline: each request, and its decision if one was made. A request on a
    closed incident without a decision is no longer waiting for anyone."""
    rows = session.execute(
        select(TimelineEvent.incident_id, TimelineEvent.step, TimelineEvent.kind, TimelineEvent.at)
        .where(TimelineEvent.kind.in_(("approval.requested", *APPROVAL_DECIDED)))
        .order_by(TimelineEvent.at)
    ).all()
    requested: dict[tuple[int, str | None], datetime] = {}
    decided: list[float] = []
    for incident_id, step, kind, at in rows:
        key = (incident_id, step)
        if kind == "approval.requested":
            requested[key] = at
        elif key in requested:
            decided.append((at - requested.pop(key)).total_seconds())
    closed = set(
        session.scalars(
            select(Incident.id).where(
                Incident.id.in_({incident for incident, _ in requested}),
                Incident.closed_at.is_not(None),
            )
        )
    )
    pending = [
        (now - at).total_seconds()
        for (incident, _), at in requested.items()
        if incident not in closed
    ]
    return ApprovalWaits(pending=pending, decided=decided)


class StoreCollector(Collector):
    """A prometheus_client collector that reads the store on every scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        with self.store.session() as session:
            yield from self._intake(session)
            yield from self._incidents(session)
            yield from self._approvals(session, datetime.now(UTC))
            yield from self._activities(session)

    def _intake(self, session: Session) -> Iterator[Metric]:
        alerts = CounterMetricFamily(
            "smokejumper_alerts_received",
            "Alerts accepted by intake, by source and kind.",
            labels=["source", "kind"],
        )
        for source, kind, count in session.execute(
            select(AlertRow.source, AlertRow.kind, func.count()).group_by(
                AlertRow.source, AlertRow.kind
            )
        ):
            alerts.add_metric([source, kind], count)
        yield alerts
        dead = CounterMetricFamily(
            "smokejumper_dead_letters",
            "Alerts intake refused and kept as dead letters, by source and reason.",
            labels=["source", "reason"],
        )
        for sender, reason, count in session.execute(
            select(DeadLetter.source, DeadLetter.reason, func.count()).group_by(
                DeadLetter.source, DeadLetter.reason
            )
        ):
            dead.add_metric([sender or "", reason], count)
        yield dead
        pending = GaugeMetricFamily(
            "smokejumper_dead_letters_pending", "Dead letters not replayed yet."
        )
        pending.add_metric(
            [],
            session.scalar(
                select(func.count()).select_from(DeadLetter).where(DeadLetter.replayed_at.is_(None))
            )
            or 0,
        )
        yield pending

    def _incidents(self, session: Session) -> Iterator[Metric]:
        open_by_severity = dict.fromkeys((severity.value for severity in Severity), 0)
        for severity, count in session.execute(
            select(Incident.severity, func.count())
            .where(Incident.status != "closed")
            .group_by(Incident.severity)
        ):
            open_by_severity[severity] = count
        gauge = GaugeMetricFamily(
            "smokejumper_incidents_open",
            "Incidents not closed, by severity.",
            labels=["severity"],
        )
        for severity, count in open_by_severity.items():
            gauge.add_metric([severity], count)
        yield gauge
        rows = session.execute(
            select(
                Incident.opened_at,
                Incident.acknowledged_at,
                Incident.contained_at,
                Incident.resolved_at,
                Incident.closed_at,
            )
        ).all()
        durations: dict[str, list[float]] = defaultdict(list)
        for opened, acknowledged, contained, resolved, closed in rows:
            for phase, at in (
                ("acknowledge", acknowledged),
                ("contain", contained),
                ("resolve", resolved or closed),
            ):
                if at is not None:
                    durations[phase].append(max(0.0, (at - opened).total_seconds()))
        for phase in ("acknowledge", "contain", "resolve"):
            yield histogram(
                f"smokejumper_time_to_{phase}_seconds",
                f"Seconds from an incident opening to it being {phase}d"
                + (" (or closed)" if phase == "resolve" else "")
                + ".",
                durations[phase],
                DURATION_BUCKETS,
            )
        breaches = CounterMetricFamily(
            "smokejumper_clock_breaches",
            "Regulatory clocks that passed their deadline without a filing.",
        )
        breaches.add_metric(
            [],
            session.scalar(
                select(func.count())
                .select_from(TimelineEvent)
                .where(TimelineEvent.kind == "clock.breached")
            )
            or 0,
        )
        yield breaches
        yield self._sla_breaches(session)

    def _sla_breaches(self, session: Session) -> Metric:
        counter = CounterMetricFamily(
            "smokejumper_sla_breaches",
            "Incidents that missed a service-level target ([slas.<severity>]), by the "
            "severity it had and the target (acknowledge, contain).",
            labels=["severity", "kind"],
        )
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for (data,) in session.execute(
            select(TimelineEvent.data).where(TimelineEvent.kind == "sla.breached")
        ):
            counts[(str(data.get("severity", "")), str(data.get("sla", "")))] += 1
        for (severity, kind), count in sorted(counts.items()):
            counter.add_metric([severity, kind], count)
        return counter

    def _approvals(self, session: Session, now: datetime) -> Iterator[Metric]:
        waits = approval_waits(session, now)
        pending = GaugeMetricFamily(
            "smokejumper_approvals_pending", "Approvals requested and not decided yet."
        )
        pending.add_metric([], len(waits.pending))
        yield pending
        oldest = GaugeMetricFamily(
            "smokejumper_approvals_pending_oldest_seconds",
            "How long the longest-waiting pending approval has waited (0 when none).",
        )
        oldest.add_metric([], max(waits.pending, default=0.0))
        yield oldest
        yield histogram(
            "smokejumper_approval_wait_seconds",
            "Seconds from an approval request to its decision (approved, denied or timed out).",
            waits.decided,
            DURATION_BUCKETS,
        )

    def _activities(self, session: Session) -> Iterator[Metric]:
        failures = CounterMetricFamily(
            "smokejumper_activity_failures",
            "Failed attempts of containment actions, by provider and action: every attempt "
            "of an action that finally failed, every attempt but the last of the others.",
            labels=["provider", "action"],
        )
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for provider, action, status, attempts in session.execute(
            select(Action.provider, Action.action, Action.status, Action.attempts)
        ):
            counts[(provider, action)] += attempts if status == "failed" else max(0, attempts - 1)
        for (provider, action), count in sorted(counts.items()):
            failures.add_metric([provider, action], count)
        yield failures
