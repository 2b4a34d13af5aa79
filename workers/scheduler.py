"""`smokejumper scheduler`: periodic jobs: outbox dispatch, the configured pollers and
evidence retention.

Run as many as you like: a lease in the store makes exactly one of them the leader, and
only the leader fires jobs. A standby takes over when the leader's lease expires.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from temporalio.client import Client

from integrations.evidence.checkpoints import head_checkpoints
from integrations.evidence.registry import evidence_store
from integrations.pollers.base import Poller, RunCounts
from integrations.pollers.factory import build_pollers
from integrations.pollers.runner import run_poller
from integrations.slack.feed import slack_feed
from integrations.sources.base import Normalizer
from integrations.sources.registry import NORMALIZERS
from smokejumper.config import ConfigError, Settings
from smokejumper.domain.routing import Router
from smokejumper.incidents import legal_holds, retention, slas
from smokejumper.intake import idempotency
from smokejumper.intake.service import IntakeService
from smokejumper.sdk.registry import discover, routes_of
from smokejumper.store.db import Store
from smokejumper.store.leases import SCHEDULER_LEASE, Fence, StaleLeader, acquire, release
from smokejumper.store.open import open_store
from smokejumper.temporal.client import connect

log = logging.getLogger("smokejumper.scheduler")
# How often the leader looks at open incidents' service-level targets.
SLA_CHECK_SECONDS = 30


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        normalizers: Mapping[str, Normalizer] = NORMALIZERS,
    ) -> None:
        self.settings = settings
        self.store = store
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.leader = False
        # This leader's term of the lease; every leader-only write is checked against it.
        self.fence: Fence | None = None
        self._client_lock = asyncio.Lock()
        self._client: Client | None = None
        # What it writes on timelines itself (SLA reminders, breaches) reaches Slack too.
        self.slack = slack_feed(store, settings, self._temporal)
        # Pollers open incidents, so they route and fingerprint exactly as the API does.
        self.intake = IntakeService(
            store,
            self._temporal,
            Router(
                [*settings.routes, *routes_of(discover(settings))],
                settings.intake.default_playbook,
            ),
            settings.temporal.task_queue,
            reopen_window_seconds=settings.intake.reopen_window_seconds,
            workflow_id_prefix=settings.temporal.workflow_id_prefix,
            queue_for=settings.temporal.queue_for,
            fingerprint_fields={
                name: source.fingerprint
                for name, source in settings.sources.items()
                if source.fingerprint is not None
            },
        )
        self.pollers: dict[str, Poller] = {
            poller.name: poller for poller in build_pollers(settings, store, normalizers)
        }

    async def _temporal(self) -> Client:
        async with self._client_lock:
            if self._client is None:
                self._client = await connect(self.settings.temporal)
        return self._client

    async def close(self) -> None:
        """Write intake's last dispatch confirmations; call before the process exits."""
        await self.intake.close()

    async def renew_lease(self) -> None:
        ttl = timedelta(seconds=self.settings.scheduler.lease_seconds)
        fence = await asyncio.to_thread(acquire, self.store, SCHEDULER_LEASE, self.holder, ttl)
        leader = fence is not None
        if leader != self.leader:
            term = f" (term {fence.token})" if fence is not None else ""
            log.info(
                "scheduler %s is now %s%s", self.holder, "leader" if leader else "standby", term
            )
        self.leader = leader
        self.fence = fence

    def _term(self) -> Fence | None:
        """The fence to write under, or None when this instance does not lead."""
        return self.fence if self.leader else None

    def _stale(self, fence: Fence, job: str) -> None:
        """A write was refused: another scheduler took the lease while this one was away."""
        log.warning(
            "scheduler %s: %s refused, term %d of the lease is over; now standby",
            self.holder,
            job,
            fence.token,
        )
        if self.fence == fence:
            self.leader = False
            self.fence = None

    async def dispatch_outbox(self) -> None:
        fence = self._term()
        if fence is None:
            return
        # Dispatches are idempotent signals, not store writes; still, a stale leader stops.
        if not await asyncio.to_thread(fence.held, self.store):
            self._stale(fence, "outbox dispatch")
            return
        min_age = timedelta(seconds=self.settings.scheduler.outbox_min_age_seconds)
        sent = await self.intake.dispatch_pending(min_age)
        if sent:
            log.info("outbox: dispatched %d stored alerts", sent)

    async def purge_idempotency_keys(self) -> None:
        """Alert requests' idempotency keys are kept a day (KEY_TTL), then dropped."""
        fence = self._term()
        if fence is None:
            return
        try:
            dropped = await asyncio.to_thread(idempotency.purge_expired, self.store, fence)
        except StaleLeader:
            self._stale(fence, "idempotency key purge")
            return
        if dropped:
            log.info("dropped %d expired idempotency keys", dropped)

    async def apply_evidence_retention(self) -> legal_holds.Deletion | None:
        """Evidence older than `evidence.retention_days` of incidents that are over is
        deleted, except what a legal hold keeps; each deletion is audited."""
        days = self.settings.evidence.retention_days
        fence = self._term()
        if fence is None or days is None:
            return None
        cutoff = datetime.now(UTC) - timedelta(days=days)
        try:
            done = await asyncio.to_thread(
                lambda: legal_holds.apply_retention(
                    self.store, cutoff, evidence_store(self.settings).delete, fence=fence
                )
            )
        except StaleLeader:
            self._stale(fence, "evidence retention")
            return None
        if done.deleted or done.object_errors:
            log.info(
                "evidence retention: %d deleted, %d kept on legal hold, %d object(s) not removed",
                len(done.deleted),
                len(done.held),
                len(done.object_errors),
            )
        return done

    async def apply_data_retention(self) -> dict[str, retention.Swept]:
        """Alert bodies older than `retention.raw_alerts_days` and dead letters older than
        `retention.dead_letters_days` are deleted, except a held incident's; audited."""
        fence = self._term()
        if fence is None:
            return {}
        now = datetime.now(UTC)
        jobs = {
            "alert bodies": (self.settings.retention.raw_alerts_days, retention.delete_raw_alerts),
            "dead letters": (
                self.settings.retention.dead_letters_days,
                retention.delete_dead_letters,
            ),
        }
        done: dict[str, retention.Swept] = {}
        for what, (days, sweep) in jobs.items():
            if days is None:
                continue
            cutoff = now - timedelta(days=days)
            try:
                swept = await asyncio.to_thread(sweep, self.store, cutoff, guard=fence.check)
            except StaleLeader:
                self._stale(fence, f"{what} retention")
                return done
            done[what] = swept
            if swept.deleted:
                log.info(
                    "retention: %d %s deleted, %d kept on legal hold",
                    len(swept.deleted),
                    what,
                    len(swept.held),
                )
        return done

    async def check_slas(self) -> int:
        """Reminders before, and breaches of, the `[slas.<severity>]` targets of open
        incidents, each written once; returns how many were written."""
        fence = self._term()
        if fence is None or not self.settings.slas:
            return 0
        try:
            written = await asyncio.to_thread(
                slas.check_slas, self.store, self.settings.slas, datetime.now(UTC), fence=fence
            )
        except StaleLeader:
            self._stale(fence, "SLA check")
            return 0
        for entry in written:
            log.info("incident %d: %s", entry.incident_id, entry.kind)
            # In the order written: the relay delivers in the order it is given.
            if self.slack is not None:
                await self.slack(entry)
        return len(written)

    async def run_poller(self, name: str) -> RunCounts:
        """One run of a poller, on the leader only; it stops early if the lease is lost."""
        fence = self._term()
        if fence is None:
            return RunCounts()
        poller = self.pollers[name]
        try:
            counts = await run_poller(
                poller,
                self.store,
                self.intake,
                lambda: self.leader,
                context=self.settings.source_context(poller.source),
                fence=fence,
            )
        except StaleLeader:
            # The record being written rolled back with its cursor; the new leader has it.
            self._stale(fence, f"poller {name}")
            return RunCounts()
        except Exception as exc:
            # The failed record was rolled back with its cursor; the next run retries it.
            # Only the type at ERROR: database errors quote their parameters, i.e. payloads.
            log.error("poller %s: run failed (%s); retrying next run", name, type(exc).__name__)
            log.debug("poller %s: run failed", name, exc_info=True)
            return RunCounts()
        if counts:
            log.info(
                "poller %s: %d accepted, %d dead-lettered",
                name,
                counts.accepted,
                counts.dead_lettered,
            )
        return counts

    def jobs(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(timezone="UTC")
        lease_every = self.settings.scheduler.lease_seconds / 3
        scheduler.add_job(
            self.renew_lease,
            "interval",
            seconds=lease_every,
            id="lease",
            max_instances=1,
            coalesce=True,
        )
        scheduler.add_job(
            self.dispatch_outbox,
            "interval",
            seconds=self.settings.scheduler.outbox_interval_seconds,
            id="outbox",
            max_instances=1,
            coalesce=True,
        )
        scheduler.add_job(
            self.purge_idempotency_keys,
            "interval",
            hours=1,
            id="idempotency-keys",
            max_instances=1,
            coalesce=True,
        )
        if self.settings.evidence.retention_days is not None:
            scheduler.add_job(
                self.apply_evidence_retention,
                "interval",
                hours=1,
                id="evidence-retention",
                max_instances=1,
                coalesce=True,
            )
        retain = self.settings.retention
        if retain.raw_alerts_days is not None or retain.dead_letters_days is not None:
            scheduler.add_job(
                self.apply_data_retention,
                "interval",
                hours=1,
                id="data-retention",
                max_instances=1,
                coalesce=True,
            )
        if self.settings.slas:
            scheduler.add_job(
                self.check_slas,
                "interval",
                seconds=SLA_CHECK_SECONDS,
                id="slas",
                max_instances=1,
                coalesce=True,
            )
        for name, poller in self.pollers.items():
            scheduler.add_job(
                self.run_poller,
                "interval",
                args=[name],
                seconds=poller.interval_seconds,
                id=f"poller:{name}",
                max_instances=1,
                coalesce=True,
            )
        return scheduler


async def run(settings: Settings) -> None:
    store = open_store(settings, head_checkpoints(settings))
    try:
        scheduler = Scheduler(settings, store)
    except ConfigError:
        store.dispose()
        raise
    await scheduler.renew_lease()
    jobs = scheduler.jobs()
    jobs.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("scheduler %s started", scheduler.holder)
    await stop.wait()
    jobs.shutdown(wait=False)
    await scheduler.close()
    if scheduler.leader:
        await asyncio.to_thread(release, store, SCHEDULER_LEASE, scheduler.holder)
    store.dispose()


def main(settings: Settings) -> None:
    try:
        asyncio.run(run(settings))
    except ConfigError as exc:  # a poller's source has no normalizer
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
