"""A real store, Temporal dev server and worker for poller tests; pollers run through the
real `Scheduler`, as in production. S3 is a real `moto_server` process spoken to over HTTP."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from smokejumper.config import Settings
from smokejumper.store.db import Store
from smokejumper.store.leases import SCHEDULER_LEASE, release
from smokejumper.store.tables import AlertRow, DeadLetter, Incident, TimelineEvent
from tests.helpers import eventually, isolate_aws, make_settings
from workers.scheduler import Scheduler
from workers.worker import build_workers, running_workers


@dataclass
class Harness:
    tmp_path: Path
    database_url: str
    temporal_env: WorkflowEnvironment
    store: Store
    task_queue: str
    # Unique per test: alerts of different tests never share a fingerprint (workflow id).
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    started: list[Scheduler] = field(default_factory=list)

    def settings(self, pollers: list[dict[str, Any]], **extra: Any) -> Settings:
        return make_settings(
            self.tmp_path,
            self.database_url,
            self.temporal_env.client.service_client.config.target_host,
            temporal={"task_queue": self.task_queue},
            pollers=pollers,
            **extra,
        )

    async def scheduler(self, pollers: list[dict[str, Any]], **extra: Any) -> Scheduler:
        """A scheduler over this store; leader unless another one holds the lease."""
        scheduler = self.track(Scheduler(self.settings(pollers, **extra), self.store))
        await scheduler.renew_lease()
        return scheduler

    async def restart(self, old: Scheduler) -> Scheduler:
        """What a process restart does: the old holder lets go, a new object takes over."""
        release(self.store, SCHEDULER_LEASE, old.holder)
        await old.close()
        new = self.track(Scheduler(old.settings, self.store))
        await new.renew_lease()
        assert new.leader
        return new

    def track(self, scheduler: Scheduler) -> Scheduler:
        self.started.append(scheduler)
        return scheduler

    async def dispatched(self) -> list[AlertRow]:
        """Every alert, once each has been confirmed as signalled to its workflow."""

        async def confirmed() -> list[AlertRow] | None:
            alerts = self.alerts()
            return alerts if all(alert.dispatched_at is not None for alert in alerts) else None

        return await eventually(confirmed, within=30)

    def alerts(self) -> list[AlertRow]:
        with self.store.session() as session:
            return list(session.scalars(select(AlertRow).order_by(AlertRow.received_at)))

    def titles(self) -> list[str]:
        return [alert.title for alert in self.alerts()]

    def dead_letters(self) -> list[DeadLetter]:
        with self.store.session() as session:
            return list(session.scalars(select(DeadLetter).order_by(DeadLetter.received_at)))

    def incidents(self) -> list[Incident]:
        with self.store.session() as session:
            return list(session.scalars(select(Incident).order_by(Incident.id)))

    def timeline_kinds(self, incident_id: int) -> list[str]:
        with self.store.session() as session:
            return list(
                session.scalars(
                    select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident_id)
                )
            )


@pytest_asyncio.fixture
async def harness(
    tmp_path: Path, database_url: str, migrated_store: Store, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Harness]:
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    settings = make_settings(
        tmp_path,
        database_url,
        temporal_env.client.service_client.config.target_host,
        temporal={"task_queue": task_queue},
    )
    harness = Harness(tmp_path, database_url, temporal_env, migrated_store, task_queue)
    async with running_workers(build_workers(temporal_env.client, settings, migrated_store)):
        yield harness
        for scheduler in harness.started:
            await scheduler.close()
        for incident in harness.incidents():
            handle = temporal_env.client.get_workflow_handle(incident.workflow_id)
            with contextlib.suppress(Exception):  # already finished
                await handle.terminate("test finished")


@dataclass
class S3:
    endpoint_url: str
    client: Any

    def bucket(self) -> str:
        """A new, empty bucket: tests share the server, never a bucket."""
        name = f"models-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=name)
        return name

    def upload_tree(self, root: Path, bucket: str, prefix: str) -> None:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                key = prefix + path.relative_to(root).as_posix()
                self.client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())


@pytest.fixture
def s3(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3:
    """The moto server, with the standard AWS variables set to test values and nothing of
    the developer's own AWS setup (profile, config files, endpoints) in the way."""
    isolate_aws(monkeypatch, tmp_path, "S3")
    return S3(moto_server, boto3.session.Session().client("s3", endpoint_url=moto_server))
