"""Accept an alert: store it (committed before anyone is told yes), open or join the incident
for its fingerprint, then signal-with-start the incident workflow.

If Temporal is unreachable after the commit the alert stays in the outbox (`dispatched_at`
NULL) and the scheduler's dispatcher retries it; nothing accepted is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from smokejumper.domain.alerts import Alert
from smokejumper.domain.incidents import SIGNAL_ALERT, AlertAttached, IncidentStart
from smokejumper.intake.fingerprint import fingerprint, workflow_id_for
from smokejumper.intake.routing import RouteDecision, Router
from smokejumper.store.db import Store
from smokejumper.store.tables import AlertRow, Incident, TimelineEvent
from smokejumper.temporal import search_attributes

log = logging.getLogger(__name__)

ClientFactory = Callable[[], Awaitable[Client]]

# A hung Temporal frontend must not hold the sender: the alert is stored, the outbox retries.
DISPATCH_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class IntakeResult:
    alert_id: str
    incident_id: str
    workflow_id: str
    deduplicated: bool
    playbook: str
    dispatched: bool


@dataclass(frozen=True)
class _Recorded:
    alert_id: str
    start: IncidentStart
    attached: AlertAttached
    workflow_id: str


def incident_ref(incident_id: int, opened_at: datetime) -> str:
    return f"INC-{opened_at.year}-{incident_id:04d}"


def _start_of(incident: Incident) -> IncidentStart:
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


class IntakeService:
    def __init__(
        self,
        store: Store,
        client: ClientFactory,
        router: Router,
        task_queue: str,
        reopen_window_seconds: float = 0.0,
        fingerprint_fields: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.store = store
        self._client = client
        self.router = router
        self.task_queue = task_queue
        self.reopen_window = timedelta(seconds=reopen_window_seconds)
        # Per-source fingerprint overrides, by source name.
        self.fingerprint_fields = dict(fingerprint_fields or {})
        self._confirmations = _Confirmations(store)

    async def close(self) -> None:
        """Write the last dispatch confirmations; call before the process exits."""
        await self._confirmations.close()

    async def accept(
        self, alert: Alert, raw: str, also: Callable[[Session], None] | None = None
    ) -> IntakeResult:
        """Store, open or join, dispatch. `also` runs inside the storing transaction (a
        poller advances its cursor there, so an alert and its cursor commit together)."""
        decision = self.router.route(alert)
        fp = fingerprint(alert, self.fingerprint_fields.get(alert.source))
        recorded = await asyncio.to_thread(self._record, alert, raw, fp, decision, also)
        dispatched = await self._try_dispatch(recorded)
        return IntakeResult(
            alert_id=recorded.alert_id,
            incident_id=recorded.start.ref,
            workflow_id=recorded.workflow_id,
            deduplicated=recorded.attached.deduplicated,
            playbook=recorded.start.playbook,
            dispatched=dispatched,
        )

    # -- store ---------------------------------------------------------------------------

    def _record(
        self,
        alert: Alert,
        raw: str,
        fp: str,
        decision: RouteDecision,
        also: Callable[[Session], None] | None,
    ) -> _Recorded:
        with self.store.transaction() as session:
            incident, opened = self._open_or_join(session, alert, fp, decision)
            if also is not None:
                also(session)
            alert_id = str(uuid.uuid4())
            session.add(
                AlertRow(
                    id=alert_id,
                    source=alert.source,
                    kind=alert.kind.value,
                    severity=alert.severity.value,
                    title=alert.title,
                    occurred_at=alert.occurred_at,
                    fingerprint=fp,
                    incident_id=incident.id,
                    deduplicated=not opened,
                    raw=raw,
                    normalized=alert.model_dump(mode="json"),
                )
            )
            session.execute(
                update(Incident)
                .where(Incident.id == incident.id)
                .values(alert_count=Incident.alert_count + 1, updated_at=datetime.now(UTC))
            )
            session.add(
                TimelineEvent(
                    incident_id=incident.id,
                    kind="alert.received" if opened else "alert.deduplicated",
                    actor=f"source:{alert.source}",
                    message=(
                        f"{alert.severity.value} {alert.kind.value} alert from {alert.source}: "
                        f"{alert.title}"
                    ),
                    data={"alert_id": alert_id},
                    event_key=f"{incident.id}:alert:{alert_id}",
                )
            )
            return _Recorded(
                alert_id=alert_id,
                start=_start_of(incident),
                attached=AlertAttached(
                    alert_id=alert_id,
                    severity=alert.severity.value,
                    title=alert.title,
                    deduplicated=not opened,
                ),
                workflow_id=incident.workflow_id,
            )

    def _open_or_join(
        self, session: Session, alert: Alert, fp: str, decision: RouteDecision
    ) -> tuple[Incident, bool]:
        existing = session.scalars(
            select(Incident).where(Incident.open_key == fp).with_for_update()
        ).first()
        if existing is not None:
            return existing, False
        now = datetime.now(UTC)
        if self.reopen_window:
            reopened = self._reopen_recent(session, fp, now)
            if reopened is not None:
                return reopened, False
        incident = Incident(
            fingerprint=fp,
            open_key=fp,
            kind=alert.kind.value,
            severity=alert.severity.value,
            title=alert.title,
            status="open",
            playbook=decision.playbook,
            route=decision.model_dump(mode="json"),
            workflow_id=workflow_id_for(fp),
            principal=alert.principal.model_dump(exclude_none=True),
            target=alert.target.model_dump(exclude_none=True),
            labels=dict(alert.labels),
            owasp=list(alert.owasp),
            atlas=list(alert.atlas),
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
            return winner, False
        incident.ref = incident_ref(incident.id, now)
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
        return incident, True

    def _reopen_recent(self, session: Session, fp: str, now: datetime) -> Incident | None:
        """Re-open the incident closed within the re-open window for this fingerprint."""
        recent = session.scalars(
            select(Incident)
            .where(
                Incident.fingerprint == fp,
                Incident.status == "closed",
                Incident.closed_at >= now - self.reopen_window,
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

    # -- dispatch ------------------------------------------------------------------------

    async def _try_dispatch(self, recorded: _Recorded) -> bool:
        try:
            await asyncio.wait_for(
                self._signal_with_start(recorded.start, recorded.attached, recorded.workflow_id),
                DISPATCH_TIMEOUT_SECONDS,
            )
        except Exception as exc:  # Temporal down or refusing: the outbox retries
            log.warning(
                "alert %s stored but not yet dispatched to %s (%s); the outbox will retry",
                recorded.alert_id,
                recorded.workflow_id,
                type(exc).__name__,
            )
            await asyncio.to_thread(self._mark_failed, recorded.alert_id, type(exc).__name__)
            return False
        self._confirmations.add(recorded.alert_id)
        return True

    async def _signal_with_start(
        self, start: IncidentStart, attached: AlertAttached, workflow_id: str
    ) -> None:
        client = await self._client()
        await client.start_workflow(
            start.playbook,
            start,
            id=workflow_id,
            task_queue=self.task_queue,
            start_signal=SIGNAL_ALERT,
            start_signal_args=[attached],
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(search_attributes.INCIDENT_ID, start.ref),
                    SearchAttributePair(search_attributes.SEVERITY, start.severity),
                    SearchAttributePair(search_attributes.PLAYBOOK, start.playbook),
                    SearchAttributePair(search_attributes.INCIDENT_STATUS, "open"),
                ]
            ),
        )

    def _mark_failed(self, alert_id: str, error: str) -> None:
        with self.store.transaction() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(dispatch_attempts=AlertRow.dispatch_attempts + 1, dispatch_error=error)
            )

    async def dispatch_pending(self, min_age: timedelta, limit: int = 200) -> int:
        """Outbox: re-dispatch stored alerts whose workflow signal did not go through."""
        pending = await asyncio.to_thread(self._pending, min_age, limit)
        sent = 0
        for recorded in pending:
            if await self._try_dispatch(recorded):
                sent += 1
        await self._confirmations.flush()
        return sent

    def _pending(self, min_age: timedelta, limit: int) -> list[_Recorded]:
        cutoff = datetime.now(UTC) - min_age
        with self.store.session() as session:
            rows = session.execute(
                select(AlertRow, Incident)
                .join(Incident, AlertRow.incident_id == Incident.id)
                .where(AlertRow.dispatched_at.is_(None), AlertRow.received_at <= cutoff)
                .order_by(AlertRow.received_at)
                .limit(limit)
            ).all()
            return [
                _Recorded(
                    alert_id=alert.id,
                    start=_start_of(incident),
                    attached=AlertAttached(
                        alert_id=alert.id,
                        severity=alert.severity,
                        title=alert.title,
                        deduplicated=alert.deduplicated,
                    ),
                    workflow_id=incident.workflow_id,
                )
                for alert, incident in rows
            ]


class _Confirmations:
    """Marks dispatched alerts in batches: one write per ~50 ms instead of one per alert.

    Delivery is at least once: a crash before a batch is written leaves those alerts to the
    outbox, which signals them again; workflows ignore an alert id they have already seen.
    """

    INTERVAL_SECONDS = 0.05
    MAX_BATCH = 500

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[str] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add(self, alert_id: str) -> None:
        self._pending.append(alert_id)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        if len(self._pending) >= self.MAX_BATCH:
            self._wake.set()

    async def _run(self) -> None:
        while self._pending:
            try:
                await asyncio.wait_for(self._wake.wait(), self.INTERVAL_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                # The outbox re-sends what was not confirmed; keep the batch for next time.
                log.exception("could not record dispatch confirmations; retrying")
                await asyncio.sleep(1)

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending[: self.MAX_BATCH], self._pending[self.MAX_BATCH :]
        try:
            await asyncio.to_thread(self._write, batch)
        except BaseException:
            self._pending[:0] = batch
            raise

    def _write(self, alert_ids: list[str]) -> None:
        with self.store.transaction() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id.in_(alert_ids))
                .values(
                    dispatched_at=datetime.now(UTC),
                    dispatch_attempts=AlertRow.dispatch_attempts + 1,
                    dispatch_error=None,
                )
            )

    async def close(self) -> None:
        while self._pending:
            await self.flush()
        if self._task is not None:
            self._task.cancel()
            self._task = None
