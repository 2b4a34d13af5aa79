"""Two schedulers on one store: only the lease holder's poller jobs process anything."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from integrations.pollers.base import RunCounts
from smokejumper.store.leases import SCHEDULER_LEASE, release
from tests.helpers import eventually
from tests.integrations.pollers.conftest import Harness
from workers.scheduler import Scheduler


class Recording(Scheduler):
    """Counts what this instance's own jobs processed."""

    processed = 0
    runs = 0

    async def run_poller(self, name: str) -> RunCounts:
        counts = await super().run_poller(name)
        self.runs += 1
        self.processed += counts.accepted + counts.dead_lettered
        return counts


def line(harness: Harness, title: str) -> str:
    alert = {
        "source": "generic",
        "kind": "jailbreak",
        "severity": "low",
        "title": title,
        "target": {"endpoint": f"chat-{harness.tag}"},
    }
    return json.dumps(alert) + "\n"


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


async def test_only_the_leaders_poller_jobs_run_and_a_standby_takes_over(
    harness: Harness,
) -> None:
    log = harness.tmp_path / "guard.jsonl"
    jsonl = {"kind": "jsonl", "source": "generic", "interval_seconds": 0.1}
    pollers = [
        {**jsonl, "name": "guard-log", "path": str(log)},
        {**jsonl, "name": "bad-log", "path": str(log) + ".bad"},
    ]
    settings = harness.settings(pollers, scheduler={"lease_seconds": 1.5})
    leader = harness.track(Recording(settings, harness.store))
    standby = harness.track(Recording(settings, harness.store))
    await leader.renew_lease()
    await standby.renew_lease()
    assert leader.leader and not standby.leader

    jobs = [leader.jobs(), standby.jobs()]
    for job in jobs:
        job.start()
    try:
        append(log, line(harness, "a") + line(harness, "b"))
        append(Path(str(log) + ".bad"), "oops\n")

        async def drained() -> bool:
            return len(harness.titles()) == 2 and len(harness.dead_letters()) == 1

        await eventually(drained, within=30)
        await asyncio.sleep(0.5)  # several more intervals of both instances
        assert standby.runs > 0
        assert (leader.processed, standby.processed) == (3, 0)

        # The leader stops and lets go; the standby takes the lease and the pollers over.
        jobs[0].shutdown(wait=False)
        release(harness.store, SCHEDULER_LEASE, leader.holder)
        leader.leader = False
        append(log, line(harness, "c"))

        async def taken_over() -> bool:
            return standby.processed == 1

        await eventually(taken_over, within=30)
    finally:
        for job in jobs:
            if job.running:
                job.shutdown(wait=False)

    assert harness.titles() == ["a", "b", "c"]
    assert standby.leader
