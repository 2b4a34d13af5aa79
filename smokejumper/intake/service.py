"""Accept an alert: store it (committed before anyone is told yes), open or join the incident
for its fingerprint, then signal-with-start the incident workflow. Duplicates of a running
incident may be coalesced: answered once stored, and signalled with the others of a short
window in one `alerts` signal.

If Temporal is unreachable after the commit the alert stays in the outbox (`dispatched_at`
NULL) and the scheduler's dispatcher retries it; nothing accepted is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from smokejumper.domain.alerts import Alert
from smokejumper.domain.fingerprint import fingerprint
from smokejumper.domain.incidents import (
    SIGNAL_ALERT,
    SIGNAL_ALERTS,
    AlertAttached,
    AlertsAttached,
    IncidentStart,
    IncidentStatus,
)
from smokejumper.domain.routing import Router
from smokejumper.intake.batching import Coalescer, Confirmations, GroupCommit
from smokejumper.intake.recorder import Pending, Recorded, Recorder, start_of
from smokejumper.store.db import Store
from smokejumper.store.outage import STORE_OUTAGE
from smokejumper.store.tables import AlertRow, Incident
from smokejumper.temporal import search_attributes
from smokejumper.temporal.priority import task_priority

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


class IntakeService:
    def __init__(
        self,
        store: Store,
        client: ClientFactory,
        router: Router,
        task_queue: str,
        reopen_window_seconds: float = 0.0,
        fingerprint_fields: Mapping[str, list[str]] | None = None,
        duplicate_window_seconds: float = 0.0,
        workflow_id_prefix: str = "incident",
        queue_for: Callable[[str], str] | None = None,
    ) -> None:
        self.store = store
        self._client = client
        self.router = router
        self.task_queue = task_queue
        # The queue by severity: urgent ones run on a queue the workers serve with slots
        # of their own (TemporalSettings.queue_for).
        self._queue_for = queue_for or (lambda _severity: task_queue)
        self.reopen_window = timedelta(seconds=reopen_window_seconds)
        # Per-source fingerprint overrides, by source name.
        self.fingerprint_fields = dict(fingerprint_fields or {})
        self._recorder = Recorder(store, self.reopen_window, workflow_id_prefix)
        self._confirmations = Confirmations(store)
        self._group_commit: GroupCommit[Pending, Recorded] = GroupCommit(self._record_batch)
        self._duplicates: Coalescer[Recorded] | None = (
            Coalescer(duplicate_window_seconds, self._deliver_duplicates)
            if duplicate_window_seconds > 0
            else None
        )

    async def close(self) -> None:
        """Deliver waiting duplicates and write the last dispatch confirmations; call
        before the process exits."""
        if self._duplicates is not None:
            await self._duplicates.close()
        await self._confirmations.close()

    async def accept(
        self, alert: Alert, raw: str, also: Callable[[Session], None] | None = None
    ) -> IntakeResult:
        """Store, open or join, dispatch. `also` runs inside the storing transaction (a
        poller advances its cursor there, so an alert and its cursor commit together)."""
        decision = self.router.route(alert)
        fp = fingerprint(alert, self.fingerprint_fields.get(alert.source))
        try:
            recorded = await self._group_commit.submit(Pending(alert, raw, fp, decision, also))
        except BaseException:
            # The failed transaction gave back the dispatch marks it had taken along.
            self._confirmations.resume()
            raise
        if self._duplicates is not None and recorded.attached.starts_incident is None:
            # Stored, so the sender may hear yes now; the incident hears of it with the
            # other duplicates of this window (the outbox covers a crash before that).
            self._duplicates.add(recorded.workflow_id, recorded)
            dispatched = False
        else:
            dispatched = await self._try_dispatch(recorded)
        return IntakeResult(
            alert_id=recorded.alert_id,
            incident_id=recorded.start.ref,
            workflow_id=recorded.workflow_id,
            deduplicated=recorded.attached.deduplicated,
            playbook=recorded.start.playbook,
            dispatched=dispatched,
        )

    def _record_batch(self, batch: list[Pending]) -> list[Recorded | Exception]:
        """The group commit's write (in its thread), with the dispatch marks waiting."""
        marks = self._confirmations.taken_along()
        try:
            return self._recorder.record_batch(batch, before=marks.make)
        except BaseException:
            self._confirmations.restore(marks.ids)
            raise

    # -- dispatch ------------------------------------------------------------------------

    async def _try_dispatch(self, recorded: Recorded) -> bool:
        try:
            # A timeout scope, not wait_for: no extra task per alert on the hot path.
            async with asyncio.timeout(DISPATCH_TIMEOUT_SECONDS):
                await self._deliver(recorded.start, recorded.attached, recorded.workflow_id)
        except Exception as exc:  # Temporal down or refusing: the outbox retries
            await self._undelivered([recorded.alert_id], recorded.workflow_id, exc)
            return False
        self._confirmations.add(recorded.alert_id)
        return True

    async def _deliver_duplicates(self, workflow_id: str, batch: list[Recorded]) -> None:
        """One signal for the duplicates of a window; if the playbook is not running any
        more, each goes the way a single alert does (signal-with-start)."""
        try:
            await asyncio.wait_for(self._signal_batch(workflow_id, batch), DISPATCH_TIMEOUT_SECONDS)
        except Exception as exc:  # Temporal down or refusing: the outbox retries
            await self._undelivered([recorded.alert_id for recorded in batch], workflow_id, exc)
            return
        for recorded in batch:
            self._confirmations.add(recorded.alert_id)

    async def _signal_batch(self, workflow_id: str, batch: list[Recorded]) -> None:
        client = await self._client()
        try:
            await client.get_workflow_handle(workflow_id).signal(
                SIGNAL_ALERTS, AlertsAttached(alerts=[recorded.attached for recorded in batch])
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            for recorded in batch:
                await self._signal_with_start(recorded.start, recorded.attached, workflow_id)

    async def _deliver(
        self, start: IncidentStart, attached: AlertAttached, workflow_id: str
    ) -> None:
        """A duplicate usually finds its playbook running: a plain signal is enough, and
        much cheaper than signal-with-start. Otherwise (first alert, or the playbook is
        not running yet) signal-with-start, which starts it if needed."""
        if attached.starts_incident is None:
            client = await self._client()
            try:
                await client.get_workflow_handle(workflow_id).signal(SIGNAL_ALERT, attached)
                return
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
        await self._signal_with_start(start, attached, workflow_id)

    async def _signal_with_start(
        self, start: IncidentStart, attached: AlertAttached, workflow_id: str
    ) -> None:
        """Start the incident's run (or signal it, when it runs), never a closed one's.

        The workflow id names the incident, so the only run this can reach is the
        incident's own. A finished run means the incident was closed (its run ends then),
        unless the store says it has since been re-opened: only then is it started again.
        A late duplicate or an outbox resend for a closed incident stays recorded on it.
        """
        try:
            await self._start(
                start, attached, workflow_id, WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
            )
        except WorkflowAlreadyStartedError:
            if not await asyncio.to_thread(self._is_open, start.incident_id):
                log.info(
                    "alert %s recorded on closed incident %s; its playbook is not restarted",
                    attached.alert_id,
                    start.ref,
                )
                return
            try:
                await self._start(
                    start, attached, workflow_id, WorkflowIDReusePolicy.ALLOW_DUPLICATE
                )
            except WorkflowAlreadyStartedError:
                return  # another sender re-started the re-opened incident first

    def _is_open(self, incident_id: int) -> bool:
        with self.store.session() as session:
            status = session.scalar(select(Incident.status).where(Incident.id == incident_id))
        return status is not None and status != IncidentStatus.CLOSED.value

    async def _start(
        self,
        start: IncidentStart,
        attached: AlertAttached,
        workflow_id: str,
        reuse: WorkflowIDReusePolicy,
    ) -> None:
        client = await self._client()
        await client.start_workflow(
            start.playbook,
            start,
            id=workflow_id,
            task_queue=self._queue_for(start.severity),
            start_signal=SIGNAL_ALERT,
            start_signal_args=[attached],
            id_reuse_policy=reuse,
            # Under a flood of low-severity incidents a critical one's tasks go first.
            priority=task_priority(start.severity),
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(search_attributes.INCIDENT_ID, start.ref),
                    SearchAttributePair(search_attributes.SEVERITY, start.severity),
                    SearchAttributePair(search_attributes.PLAYBOOK, start.playbook),
                    SearchAttributePair(search_attributes.INCIDENT_STATUS, "open"),
                ]
            ),
        )

    async def _undelivered(self, alert_ids: list[str], workflow_id: str, exc: Exception) -> None:
        """Say so and count the attempt on the alerts' rows (in one write); the outbox
        sends them again."""
        error = type(exc).__name__
        log.warning(
            "alert(s) %s stored but not yet dispatched to %s (%s); the outbox will retry",
            ", ".join(alert_ids),
            workflow_id,
            error,
        )
        try:
            await asyncio.to_thread(self._mark_failed, alert_ids, error)
        except STORE_OUTAGE as outage:
            # Only the count is lost: the alerts are stored, the sender must hear so (not
            # a 503 that would make it send them again), and the outbox finds them anyway.
            log.warning("could not count the dispatch attempt: %s", type(outage).__name__)

    def _mark_failed(self, alert_ids: list[str], error: str) -> None:
        with self.store.transaction() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id.in_(alert_ids))
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

    def _pending(self, min_age: timedelta, limit: int) -> list[Recorded]:
        cutoff = datetime.now(UTC) - min_age
        with self.store.session() as session:
            rows = session.execute(
                select(AlertRow, Incident)
                .join(Incident, AlertRow.incident_id == Incident.id)
                .where(AlertRow.dispatched_at.is_(None), AlertRow.received_at <= cutoff)
                .order_by(AlertRow.received_at)
                .limit(limit)
            ).all()
            recorded = []
            for alert, incident in rows:
                start = start_of(incident)
                attached = AlertAttached(
                    alert_id=alert.id,
                    severity=alert.severity,
                    title=alert.title,
                    deduplicated=alert.deduplicated,
                    # A re-sent first alert may still have to start its playbook.
                    starts_incident=None if alert.deduplicated else start,
                )
                recorded.append(
                    Recorded(
                        alert_id=alert.id,
                        start=start,
                        attached=attached,
                        workflow_id=incident.workflow_id,
                    )
                )
            return recorded
