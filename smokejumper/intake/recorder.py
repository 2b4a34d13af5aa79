"""Writing alerts: open or join the incident for a fingerprint, store the alert and its
timeline row. Many alerts go in one transaction (see batching.GroupCommit)."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smokejumper.domain.alerts import Alert
from smokejumper.domain.fingerprint import workflow_id_for
from smokejumper.domain.incidents import AlertAttached, IncidentStart
from smokejumper.domain.routing import RouteDecision
from smokejumper.domain.taxonomy import taxonomy_of
from smokejumper.store.db import Store
from smokejumper.store.outage import STORE_OUTAGE
from smokejumper.store.tables import AlertRow, Incident, TimelineEvent

log = logging.getLogger(__name__)

ALERTS: Table = AlertRow.__table__  # type: ignore[assignment]
TIMELINE: Table = TimelineEvent.__table__  # type: ignore[assignment]
INCIDENTS: Table = Incident.__table__  # type: ignore[assignment]

# How an alert met its incident: it opened it, re-opened a closed one, or joined an open one.
Joined = Literal["opened", "reopened", "joined"]


@dataclass(frozen=True)
class Pending:
    alert: Alert
    raw: str
    fp: str
    decision: RouteDecision
    also: Callable[[Session], None] | None


@dataclass(frozen=True)
class Recorded:
    alert_id: str
    start: IncidentStart
    attached: AlertAttached
    workflow_id: str


def incident_ref(incident_id: int, opened_at: datetime) -> str:
    return f"INC-{opened_at.year}-{incident_id:04d}"


@dataclass(frozen=True)
class _Open:
    """What recording an alert needs of its open incident: read as plain columns, since
    loading whole ORM incidents (JSON columns and all) for every batch costs the storm."""

    id: int
    ref: str | None
    fingerprint: str
    kind: str
    severity: str
    title: str
    playbook: str | None
    opened_at: datetime
    workflow_id: str


# Built once: a storm runs these for every batch.
_OPEN_BY_KEY = (
    select(*(INCIDENTS.c[name] for name in _Open.__dataclass_fields__), INCIDENTS.c.open_key)
    .where(
        INCIDENTS.c.open_key.in_(bindparam("keys", expanding=True)),
        # A merged incident's alerts go to its target: _open_or_join follows it.
        INCIDENTS.c.merged_into_id.is_(None),
    )
    .with_for_update()
)
_INSERT_ALERTS = insert(ALERTS)
_INSERT_EVENTS = insert(TIMELINE)
_COUNT_ALERTS = (
    update(INCIDENTS)
    .where(INCIDENTS.c.id == bindparam("incident"))
    .values(alert_count=INCIDENTS.c.alert_count + bindparam("more"), updated_at=bindparam("at"))
)


def start_of(incident: Incident | _Open) -> IncidentStart:
    assert incident.ref is not None
    return IncidentStart(
        incident_id=incident.id,
        ref=incident.ref,
        fingerprint=incident.fingerprint,
        kind=incident.kind,
        severity=incident.severity,
        title=incident.title,
        playbook=incident.playbook or "",
        opened_at=incident.opened_at,
    )


class Recorder:
    def __init__(
        self, store: Store, reopen_window: timedelta, workflow_id_prefix: str = "incident"
    ) -> None:
        self.store = store
        self.reopen_window = reopen_window
        self.workflow_id_prefix = workflow_id_prefix

    def record_batch(
        self, batch: list[Pending], before: Callable[[Session], None] | None = None
    ) -> list[Recorded | Exception]:
        """One transaction for many alerts (group commit).

        The common case — alerts from senders, no per-item hook — is written with a few
        multi-row statements. If that fails, or an item carries a hook (a poller cursor),
        the batch is written again in a new transaction, each alert in its own savepoint,
        so one bad alert fails only its own sender. `before` runs first in each transaction
        (intake's dispatch confirmations ride along there instead of paying a commit of
        their own), so it must make the same writes when called again.
        """
        if not any(item.also for item in batch):
            try:
                with self.store.transaction() as session:
                    if before is not None:
                        before(session)
                    return list(self._record_many(session, batch))
            except STORE_OUTAGE:
                raise  # the connection is gone: every sender hears it (a 503)
            except Exception:
                log.warning("batched write failed; writing %d alerts one by one", len(batch))
        with self.store.transaction() as session:
            if before is not None:
                before(session)
            results: list[Recorded | Exception] = []
            for item in batch:
                try:
                    with session.begin_nested():
                        results.append(self._record(session, item))
                except STORE_OUTAGE:
                    raise  # every sender of the batch hears it (a 503), not just this one
                except Exception as exc:  # reported to that alert's sender alone
                    results.append(exc)
            return results

    def _record_many(self, session: Session, batch: list[Pending]) -> list[Recorded]:
        now = datetime.now(UTC)
        fingerprints = {item.fp for item in batch}
        connection = session.connection()
        rows = connection.execute(_OPEN_BY_KEY, {"keys": list(fingerprints)})
        incidents: dict[str, _Open] = {row.open_key: _Open(*row[:-1]) for row in rows}
        # One start per incident: every alert of the batch that joins it carries the same.
        starts: dict[int, IncidentStart] = {}
        alerts: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        counts: Counter[int] = Counter()
        recorded: list[Recorded] = []
        for item in batch:
            incident = incidents.get(item.fp)
            joined: Joined = "joined"
            if incident is None:
                opened_or_joined, joined = self._open_or_join(
                    session, item.alert, item.fp, item.decision
                )
                incident = incidents[item.fp] = _open_of(opened_or_joined)
            opened = joined == "opened"
            alert_id = str(uuid.uuid4())
            alerts.append(_alert_row(alert_id, item, incident.id, opened, now))
            if opened:
                # Stamped after _open_or_join, so "opened" sorts before "received".
                stamp = datetime.now(UTC)
                events.append(_received_event(alert_id, item.alert, incident.id, stamp))
            counts[incident.id] += 1
            start = starts.get(incident.id)
            if start is None:
                start = starts[incident.id] = start_of(incident)
            recorded.append(_attached(alert_id, item.alert, start, incident.workflow_id, joined))
        # Table-level executemany statements: the ORM's bulk paths cost more CPU per row
        # than the database does, and this is the intake's hot path.
        connection.execute(_INSERT_ALERTS, alerts)
        if events:
            connection.execute(_INSERT_EVENTS, events)
        connection.execute(
            _COUNT_ALERTS,
            [{"incident": id_, "more": count, "at": now} for id_, count in counts.items()],
        )
        return recorded

    def _record(self, session: Session, item: Pending) -> Recorded:
        incident, joined = self._open_or_join(session, item.alert, item.fp, item.decision)
        opened = joined == "opened"
        now = datetime.now(UTC)
        if item.also is not None:
            item.also(session)
        alert_id = str(uuid.uuid4())
        session.execute(insert(AlertRow), [_alert_row(alert_id, item, incident.id, opened, now)])
        if opened:
            session.execute(
                insert(TimelineEvent), [_received_event(alert_id, item.alert, incident.id, now)]
            )
        session.execute(
            update(Incident)
            .where(Incident.id == incident.id)
            .values(alert_count=Incident.alert_count + 1, updated_at=now)
        )
        return _recorded(alert_id, item.alert, incident, joined)

    def _open_or_join(
        self, session: Session, alert: Alert, fp: str, decision: RouteDecision
    ) -> tuple[Incident, Joined]:
        existing = session.scalars(
            select(Incident).where(Incident.open_key == fp).with_for_update()
        ).first()
        if existing is not None:
            if existing.merged_into_id is None:
                return existing, "joined"
            target = _merge_target(session, existing)
            if target is not None:
                return target, "joined"
        now = datetime.now(UTC)
        owasp, atlas = taxonomy_of(alert.kind.value, alert.owasp, alert.atlas)
        if self.reopen_window:
            reopened = self._reopen_recent(session, fp, now)
            if reopened is not None:
                return reopened, "reopened"
        incident = Incident(
            fingerprint=fp,
            open_key=fp,
            kind=alert.kind.value,
            severity=alert.severity.value,
            title=alert.title,
            status="open",
            playbook=decision.playbook,
            route=decision.model_dump(mode="json"),
            # Completed below, once the row has its number.
            workflow_id=workflow_id_for(fp, prefix=self.workflow_id_prefix),
            principal=alert.principal.model_dump(exclude_none=True),
            target=alert.target.model_dump(exclude_none=True),
            labels=dict(alert.labels),
            owasp=owasp,
            atlas=atlas,
            alert_count=0,
            opened_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(incident)
                session.flush()
        except IntegrityError:
            # Another request opened it between our read and our insert.
            winner = session.scalars(select(Incident).where(Incident.open_key == fp)).one()
            return winner, "joined"
        incident.ref = incident_ref(incident.id, now)
        incident.workflow_id = workflow_id_for(fp, incident.id, self.workflow_id_prefix)
        session.add(
            TimelineEvent(
                incident_id=incident.id,
                kind="incident.opened",
                actor="smokejumper",
                message=f"Incident opened; playbook {decision.playbook}: {decision.reason}",
                data={"playbook": decision.playbook, "matched": decision.matched},
                event_key=f"{incident.id}:opened",
            )
        )
        session.flush()
        return incident, "opened"

    def _reopen_recent(self, session: Session, fp: str, now: datetime) -> Incident | None:
        """Re-open the incident closed within the re-open window for this fingerprint."""
        recent = session.scalars(
            select(Incident)
            .where(
                Incident.fingerprint == fp,
                Incident.status == "closed",
                Incident.closed_at >= now - self.reopen_window,
                # A merged incident is closed for good: its work goes on in the target.
                Incident.merged_into_id.is_(None),
            )
            .order_by(Incident.closed_at.desc())
            .limit(1)
            .with_for_update()
        ).first()
        if recent is None:
            return None
        try:
            with session.begin_nested():
                recent.open_key = fp
                recent.status = "open"
                recent.closed_at = None
                recent.updated_at = now
                session.flush()
        except IntegrityError:
            return session.scalars(select(Incident).where(Incident.open_key == fp)).one()
        session.add(
            TimelineEvent(
                incident_id=recent.id,
                kind="incident.reopened",
                actor="smokejumper",
                message="Re-opened: a matching alert arrived within the re-open window",
                data={"window_seconds": self.reopen_window.total_seconds()},
                event_key=f"{recent.id}:reopened:{now.isoformat()}",
            )
        )
        return recent


def _alert_row(
    alert_id: str, item: Pending, incident_id: int, opened: bool, now: datetime
) -> dict[str, Any]:
    alert = item.alert
    return {
        "id": alert_id,
        "received_at": now,
        "source": alert.source,
        "kind": alert.kind.value,
        "severity": alert.severity.value,
        "title": alert.title,
        "occurred_at": alert.occurred_at,
        "fingerprint": item.fp,
        "incident_id": incident_id,
        "deduplicated": not opened,
        "raw": item.raw,
        "normalized": alert.model_dump(mode="json"),
        "dispatch_attempts": 0,
    }


def _received_event(alert_id: str, alert: Alert, incident_id: int, now: datetime) -> dict[str, Any]:
    """The timeline row of the alert that opened the incident. Later alerts are rows of
    `alerts` (listed with the incident, counted in `alert_count`), not timeline entries:
    a storm of duplicates must not bury what responders did."""
    return {
        "incident_id": incident_id,
        "at": now,
        "kind": "alert.received",
        "step": None,
        "actor": f"source:{alert.source}",
        "message": (
            f"{alert.severity.value} {alert.kind.value} alert from {alert.source}: {alert.title}"
        ),
        "data": {"alert_id": alert_id},
        "event_key": f"{incident_id}:alert:{alert_id}",
    }


def _recorded(alert_id: str, alert: Alert, incident: Incident, joined: Joined) -> Recorded:
    return _attached(alert_id, alert, start_of(incident), incident.workflow_id, joined)


def _attached(
    alert_id: str, alert: Alert, start: IncidentStart, workflow_id: str, joined: Joined
) -> Recorded:
    return Recorded(
        alert_id=alert_id,
        start=start,
        attached=AlertAttached(
            alert_id=alert_id,
            severity=alert.severity.value,
            title=alert.title,
            deduplicated=joined != "opened",
            starts_incident=start if joined != "joined" else None,
        ),
        workflow_id=workflow_id,
    )


def _open_of(incident: Incident) -> _Open:
    return _Open(
        id=incident.id,
        ref=incident.ref,
        fingerprint=incident.fingerprint,
        kind=incident.kind,
        severity=incident.severity,
        title=incident.title,
        playbook=incident.playbook,
        opened_at=incident.opened_at,
        workflow_id=incident.workflow_id,
    )


def _merge_target(session: Session, merged: Incident) -> Incident | None:
    """The open incident `merged` was merged into (it kept its open_key for this); once
    that one is over, the fingerprint is freed and the alert opens a new incident."""
    target = session.get(Incident, merged.merged_into_id, with_for_update=True)
    if target is not None and target.open_key is not None:
        return target
    merged.open_key = None
    session.flush()
    return None
