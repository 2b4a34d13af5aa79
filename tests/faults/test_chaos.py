"""The production topology under chaos: two APIs, three workers and two schedulers against
one Temporal server and PostgreSQL, while a storm of leak alerts runs. Every few seconds a
random process (an API, a worker or the leading scheduler) is SIGKILLed and restarted, or
the leading scheduler is paused (SIGSTOP) past its lease and resumed.

At the end: every alert answered 202 is stored and reached its incident; one incident per
fingerprint; every provider side effect happened exactly once; every playbook finished; and
the scheduler lease never had two holders in one term.

`make test` runs a short storm; `make soak` runs it for `SMOKEJUMPER_SOAK_SECONDS`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from temporalio.testing import WorkflowEnvironment

from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from smokejumper.config import Settings
from smokejumper.security.operator import operator_token
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.open import open_store
from smokejumper.store.tables import AlertRow, Incident, SchedulerLease, TimelineEvent
from tests.faults.conftest import FAULT_PLAYBOOKS, FAULT_ROUTE, Iam, process_env
from tests.helpers import eventually, free_port, make_settings

pytestmark = pytest.mark.slow

STORM_SECONDS = float(os.environ.get("SMOKEJUMPER_SOAK_SECONDS", "12"))
# Each leak is sent this many times at once, to both APIs: duplicates must join one incident.
COPIES = 3
KILL_EVERY = (1.5, 3.0)


@dataclass
class Proc:
    role: str
    number: int
    command: list[str]
    env: dict[str, str]
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def name(self) -> str:
        return f"{self.role}-{self.number}"

    def start(self) -> None:
        self.starts += 1
        log = self.log_dir / f"{self.name}.{self.starts}.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    async def pause(self, seconds: float) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Topology:
    settings: Settings
    log_dir: Path
    apis: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    schedulers: list[Proc] = field(default_factory=list)
    api_urls: list[str] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)

    def _proc(self, role: str, number: int, extra: dict[str, str]) -> Proc:
        scheduler = self.settings.scheduler
        env = {
            **process_env(self.settings),
            "SMOKEJUMPER_ROUTES": json.dumps([FAULT_ROUTE]),
            "SMOKEJUMPER_SCHEDULER__LEASE_SECONDS": str(scheduler.lease_seconds),
            "SMOKEJUMPER_SCHEDULER__OUTBOX_INTERVAL_SECONDS": str(
                scheduler.outbox_interval_seconds
            ),
            "SMOKEJUMPER_SCHEDULER__OUTBOX_MIN_AGE_SECONDS": str(scheduler.outbox_min_age_seconds),
            **extra,
        }
        command = [sys.executable, "-m", "cli", role]
        return Proc(role, number, command, env, self.log_dir)

    def build(self, apis: int, workers: int, schedulers: int) -> None:
        for n in range(apis):
            port = free_port()
            self.api_urls.append(f"http://127.0.0.1:{port}")
            self.apis.append(self._proc("api", n, {"SMOKEJUMPER_API__PORT": str(port)}))
        self.workers = [self._proc("worker", n, {}) for n in range(workers)]
        self.schedulers = [self._proc("scheduler", n, {}) for n in range(schedulers)]

    @property
    def everyone(self) -> list[Proc]:
        return [*self.apis, *self.workers, *self.schedulers]

    def start(self) -> None:
        for proc in self.everyone:
            proc.start()

    def stop(self) -> None:
        for proc in self.everyone:
            proc.stop()

    def leader(self, store: Store) -> Proc | None:
        with store.session() as session:
            lease = session.get(SchedulerLease, "scheduler")
        if lease is None:
            return None
        pid = int(lease.holder.split(":")[1])
        return next((p for p in self.schedulers if p.process and p.process.pid == pid), None)


async def wait_for_apis(urls: list[str]) -> None:
    async with httpx.AsyncClient(timeout=2) as http:

        async def serving() -> bool:
            for url in urls:
                try:
                    if (await http.get(f"{url}/healthz")).status_code != 200:
                        return False
                except httpx.TransportError:
                    return False
            return True

        await eventually(serving, within=90, interval=0.3)


@dataclass
class Storm:
    """Sends each leak COPIES times at once, spread over both APIs; a copy whose API is down
    (or answers 5xx) is sent again to the other until one answers 202."""

    urls: list[str]
    token: str
    accepted: list[dict[str, Any]] = field(default_factory=list)
    retried: int = 0

    async def send(self, http: httpx.AsyncClient, alert: dict[str, Any], first: int) -> None:
        headers = {"authorization": f"Bearer {self.token}"}
        attempt = first
        deadline = asyncio.get_running_loop().time() + 120
        while asyncio.get_running_loop().time() < deadline:
            url = self.urls[attempt % len(self.urls)]
            attempt += 1
            try:
                response = await http.post(f"{url}/api/v1/alerts", json=alert, headers=headers)
            except httpx.TransportError:
                self.retried += 1
                await asyncio.sleep(0.2)
                continue
            if response.status_code == 202:
                answer = response.json()
                assert answer["playbook"] == FAULT_ROUTE["playbook"], answer
                self.accepted.append({**answer, "title": alert["title"]})
                return
            assert response.status_code >= 500, response.text
            self.retried += 1
            await asyncio.sleep(0.2)
        raise AssertionError(f"no API accepted {alert['title']} within 120 s")

    async def leak(self, http: httpx.AsyncClient, title: str) -> None:
        alert = {
            "source": "dlp",
            "kind": "data_leakage",
            "severity": "critical",
            "title": title,
            # One caller per leak: the fingerprint (kind, target, principal) is the leak's.
            "principal": {"user": f"chaos-{title.split()[0]}"},
        }
        await asyncio.gather(*(self.send(http, alert, n) for n in range(COPIES)))


async def chaos(topology: Topology, store: Store, stop: asyncio.Event) -> None:
    """Kill a random process (the leading scheduler, never the standby) and start it again."""
    rng = random.Random()
    # The roles take turns (in a shuffled order each round), the instance is random: a
    # short run hits every kind of process.
    roles: list[str] = []
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=rng.uniform(*KILL_EVERY))
            return
        except TimeoutError:
            pass
        if not roles:
            roles = rng.sample(["api", "worker", "scheduler"], 3)
        role = roles.pop()
        if role == "scheduler":
            leader = await asyncio.to_thread(topology.leader, store)
            victims = [leader] if leader else []
        else:
            victims = topology.apis if role == "api" else topology.workers
        alive = [p for p in victims if p.alive()]
        if not alive:
            continue
        victim = rng.choice(alive)
        if victim.role == "scheduler" and rng.random() < 0.5:
            # Paused past its lease, then resumed: it must not lead beside the new leader.
            await victim.pause(topology.settings.scheduler.lease_seconds + 1)
            topology.kills["paused scheduler"] += 1
            continue
        victim.kill()
        topology.kills[victim.role] += 1
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        victim.start()


def every_role_hit(kills: Counter[str]) -> bool:
    return bool(kills["api"] and kills["worker"] and kills["scheduler"] + kills["paused scheduler"])


async def sample_lease(store: Store, stop: asyncio.Event, terms: dict[int, set[str]]) -> None:
    while not stop.is_set():
        with store.session() as session:
            lease = session.get(SchedulerLease, "scheduler")
            if lease is not None:
                terms[lease.token].add(lease.holder)
        await asyncio.sleep(0.1)


@contextmanager
def running(topology: Topology) -> Iterator[Topology]:
    topology.start()
    try:
        yield topology
    finally:
        topology.stop()


async def test_two_apis_three_workers_two_schedulers_under_sigkill_lose_nothing(
    tmp_path: Path, postgres_url: str, temporal_env: WorkflowEnvironment, iam: Iam
) -> None:
    settings = make_settings(
        tmp_path,
        postgres_url,
        temporal_env.client.service_client.config.target_host,
        playbook_dirs=[FAULT_PLAYBOOKS],
        routes=[FAULT_ROUTE],
        containment={"aws_endpoint_url": iam.endpoint_url},
        scheduler={
            "lease_seconds": 3,
            "outbox_interval_seconds": 0.5,
            "outbox_min_age_seconds": 1,
        },
    )
    upgrade(settings.effective_database_url)
    store = open_store(settings)
    keys = LocalKeys(settings.local_keys_file)
    endpoints = LocalEndpoints(settings.local_endpoints_file)
    topology = Topology(settings, tmp_path / "logs")
    topology.log_dir.mkdir()
    topology.build(apis=2, workers=3, schedulers=2)
    storm = Storm(topology.api_urls, operator_token(settings, create=True))
    leaks: dict[str, tuple[str, str]] = {}
    terms: dict[int, set[str]] = defaultdict(set)

    try:
        with running(topology):
            await wait_for_apis(topology.api_urls)
            stop, sampled = asyncio.Event(), asyncio.Event()
            killing = asyncio.create_task(chaos(topology, store, stop))
            # Sampled until the end: a leader lost in the storm's last seconds is replaced
            # a lease later.
            sampling = asyncio.create_task(sample_lease(store, sampled, terms))
            async with httpx.AsyncClient(timeout=10) as http:
                sending: list[asyncio.Task[None]] = []
                loop = asyncio.get_running_loop()
                until = loop.time() + STORM_SECONDS
                # A short storm goes on (up to twice as long) until every role was hit.
                while loop.time() < until or (
                    not every_role_hit(topology.kills) and loop.time() < until + STORM_SECONDS
                ):
                    local_key = f"sk-chaos-{uuid.uuid4().hex[:6]}"
                    aws_key, _ = await asyncio.to_thread(iam.access_key)
                    keys.create(local_key)
                    endpoints.create(local_key)
                    title = f"{local_key} {aws_key}"
                    leaks[title] = (local_key, aws_key)
                    sending.append(asyncio.create_task(storm.leak(http, title)))
                    await asyncio.sleep(0.4)
                await asyncio.gather(*sending)
            stop.set()
            await killing
            for proc in topology.everyone:
                if not proc.alive():
                    proc.start()

            refs = {answer["incident_id"] for answer in storm.accepted}

            def finished() -> set[str] | None:
                done = finished_refs(store)
                return done if refs <= done else None

            async def all_finished() -> set[str] | None:
                return await asyncio.to_thread(finished)

            try:
                await eventually(all_finished, within=180, interval=1)
            except AssertionError:
                left = refs - (await asyncio.to_thread(finished_refs, store))
                message = f"{len(left)} playbooks did not finish: {sorted(left)}"
                raise AssertionError(message) from None
            # The outbox's last confirmations are written after the signals went through.
            await eventually(lambda: asyncio.to_thread(undispatched, store), within=30)

            async def taken_over() -> bool:
                return len(terms) > 1

            await eventually(taken_over, within=4 * settings.scheduler.lease_seconds)
            sampled.set()
            await sampling
    finally:
        store.dispose()
        reopened = open_store(settings)
        try:
            report = summary(reopened, topology)
        finally:
            reopened.dispose()
        print(report)

    store = open_store(settings)
    try:
        check_alerts(store, storm, leaks)
        check_side_effects(store, iam, keys, endpoints, leaks)
    finally:
        store.dispose()

    assert sum(topology.kills.values()) >= max(3, int(STORM_SECONDS / KILL_EVERY[1]) - 1)
    assert topology.kills["api"] and topology.kills["worker"], topology.kills
    assert topology.kills["scheduler"] + topology.kills["paused scheduler"], topology.kills
    # One holder per term of the lease: never two leaders writing under one token.
    assert terms and all(len(holders) == 1 for holders in terms.values()), terms
    assert len(terms) > 1, "the standby never took over from a lost leader"


def finished_refs(store: Store) -> set[str]:
    with store.session() as session:
        return set(
            session.scalars(
                select(Incident.ref)
                .join(TimelineEvent, TimelineEvent.incident_id == Incident.id)
                .where(TimelineEvent.kind == "playbook.finished")
            )
        )


def undispatched(store: Store) -> bool:
    with store.session() as session:
        waiting = session.scalar(
            select(func.count()).select_from(AlertRow).where(AlertRow.dispatched_at.is_(None))
        )
    return waiting == 0


def summary(store: Store, topology: Topology) -> str:
    with store.session() as session:
        incidents = session.scalar(select(func.count()).select_from(Incident))
        alerts = session.scalar(select(func.count()).select_from(AlertRow))
    return f"chaos: kills {dict(topology.kills)}, {incidents} incidents, {alerts} alerts"


def check_alerts(store: Store, storm: Storm, leaks: dict[str, tuple[str, str]]) -> None:
    with store.session() as session:
        stored = {
            alert_id: (incident_id, dispatched)
            for alert_id, incident_id, dispatched in session.execute(
                select(AlertRow.id, AlertRow.incident_id, AlertRow.dispatched_at)
            )
        }
        incidents = set(session.scalars(select(Incident.ref)))
    # Every alert answered 202 is stored, attached to its incident and was signalled to
    # the incident's playbook.
    assert len(storm.accepted) == len(leaks) * COPIES
    for answer in storm.accepted:
        assert answer["alert_id"] in stored, answer
        incident_id, dispatched = stored[answer["alert_id"]]
        assert incident_id is not None and dispatched is not None, answer
    # One incident per fingerprint, however many copies arrived at how many APIs.
    per_leak: dict[str, set[str]] = defaultdict(set)
    for answer in storm.accepted:
        per_leak[answer["title"]].add(answer["incident_id"])
    assert set(per_leak) == set(leaks)
    assert all(len(refs) == 1 for refs in per_leak.values()), per_leak
    assert incidents == {ref for refs in per_leak.values() for ref in refs}
    assert len(incidents) == len(leaks)


def check_side_effects(
    store: Store,
    iam: Iam,
    keys: LocalKeys,
    endpoints: LocalEndpoints,
    leaks: dict[str, tuple[str, str]],
) -> None:
    with store.session() as session:
        failed = session.scalar(
            select(func.count())
            .select_from(TimelineEvent)
            .where(TimelineEvent.kind == "playbook.failed")
        )
        actions = Counter(
            (action, target, status)
            for action, target, status in session.execute(
                text("SELECT action, target, status FROM actions")
            )
        )
    assert failed == 0
    wrong: list[str] = []
    for local_key, aws_key in leaks.values():
        # Exactly once at the providers: one UpdateAccessKey at the IAM server, whatever was
        # killed; the local key revoked and its endpoint isolated.
        calls = iam.calls("UpdateAccessKey", aws_key)
        if calls != 1 or iam.status(aws_key) != "Inactive":
            wrong.append(f"{aws_key}: {calls} UpdateAccessKey, {iam.status(aws_key)}")
        if keys.state(local_key).status != "inactive":
            wrong.append(f"{local_key}: {keys.state(local_key).status}")
        if endpoints.state(local_key).status != "isolated":
            wrong.append(f"endpoint {local_key}: {endpoints.state(local_key).status}")
        for action, target in (
            ("revoke_key", local_key),
            ("revoke_key", aws_key),
            ("isolate_endpoint", local_key),
        ):
            if actions[(action, target, "completed")] != 1:
                found = {k: v for k, v in actions.items() if k[1] == target}
                wrong.append(f"{action} {target}: {found}")
    if wrong:
        with store.session() as session:
            first = session.scalars(select(Incident.id).order_by(Incident.id)).first()
            seen = session.execute(
                select(TimelineEvent.kind, TimelineEvent.data).where(
                    TimelineEvent.incident_id == first
                )
            ).all()
        wrong.append(f"the first incident's timeline: {seen}")
    assert not wrong, "\n".join(wrong)
