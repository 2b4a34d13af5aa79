"""`smokejumper scheduler`: periodic jobs (outbox dispatch now; pollers later).

Run as many as you like: a lease in the store makes exactly one of them the leader, and
only the leader fires jobs. A standby takes over when the leader's lease expires.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import uuid
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from temporalio.client import Client

from smokejumper.config import Settings
from smokejumper.intake.routing import Router
from smokejumper.intake.service import IntakeService
from smokejumper.store.db import Store
from smokejumper.store.leases import SCHEDULER_LEASE, acquire_or_renew, release
from smokejumper.temporal.client import connect

log = logging.getLogger("smokejumper.scheduler")


class Scheduler:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.leader = False
        self._client_lock = asyncio.Lock()
        self._client: Client | None = None
        self.intake = IntakeService(
            store,
            self._temporal,
            Router([], settings.intake.default_playbook),
            settings.temporal.task_queue,
        )

    async def _temporal(self) -> Client:
        async with self._client_lock:
            if self._client is None:
                self._client = await connect(self.settings.temporal)
        return self._client

    async def renew_lease(self) -> None:
        ttl = timedelta(seconds=self.settings.scheduler.lease_seconds)
        leader = await asyncio.to_thread(
            acquire_or_renew, self.store, SCHEDULER_LEASE, self.holder, ttl
        )
        if leader != self.leader:
            log.info("scheduler %s is now %s", self.holder, "leader" if leader else "standby")
        self.leader = leader

    async def dispatch_outbox(self) -> None:
        if not self.leader:
            return
        min_age = timedelta(seconds=self.settings.scheduler.outbox_min_age_seconds)
        sent = await self.intake.dispatch_pending(min_age)
        if sent:
            log.info("outbox: dispatched %d stored alerts", sent)

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
        return scheduler


async def run(settings: Settings) -> None:
    store = Store(settings.effective_database_url)
    scheduler = Scheduler(settings, store)
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
    if scheduler.leader:
        await asyncio.to_thread(release, store, SCHEDULER_LEASE, scheduler.holder)
    store.dispose()


def main(settings: Settings) -> None:
    asyncio.run(run(settings))
