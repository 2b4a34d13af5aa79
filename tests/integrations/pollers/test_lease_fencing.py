"""A leader that was away past its lease (a stopped process, a long pause) resumes still
believing it leads: its leader-only writes are refused by the lease's fencing token, and
the new leader's work is not done twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from smokejumper.store.db import Store
from smokejumper.store.leases import StaleLeader, acquire
from smokejumper.store.tables import IntakeRequest
from tests.integrations.pollers.conftest import Harness
from tests.integrations.pollers.test_scheduler import append, line
from workers.scheduler import Scheduler

TTL = timedelta(seconds=30)


def test_the_token_grows_when_the_lease_changes_hands_and_only_then(
    migrated_store: Store,
) -> None:
    first = acquire(migrated_store, "fenced", "a", TTL)
    assert first is not None and first.token == 1
    assert acquire(migrated_store, "fenced", "a", TTL) == first  # renewed: same term
    assert acquire(migrated_store, "fenced", "b", TTL) is None  # a's lease runs

    gone = acquire(migrated_store, "fenced", "a", timedelta(seconds=-1))  # a's lease lapses
    assert gone == first
    second = acquire(migrated_store, "fenced", "b", TTL)
    assert second is not None and second.token == 2

    assert second.held(migrated_store)
    assert not first.held(migrated_store)
    # a comes back: its old term is refused inside a write, and it is standby now.
    try:
        with migrated_store.transaction() as session:
            first.check(session)
            raise AssertionError("a stale term passed its fence check")
    except StaleLeader:
        pass
    assert acquire(migrated_store, "fenced", "a", TTL) is None


def expired_keys(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(IntakeRequest)) or 0)


async def test_a_paused_leader_resuming_after_its_lease_writes_nothing(harness: Harness) -> None:
    log = harness.tmp_path / "guard.jsonl"
    poller = {"kind": "jsonl", "source": "generic", "interval_seconds": 0.1, "name": "g"}
    settings = harness.settings(
        [{**poller, "path": str(log)}],
        scheduler={"lease_seconds": 1.5},
        evidence={"retention_days": 1},
    )
    paused = harness.track(Scheduler(settings, harness.store))
    await paused.renew_lease()
    stale = paused.fence
    assert paused.leader and stale is not None

    # While `paused` is stopped (no renewals), its lease runs out and another takes over.
    await asyncio.sleep(1.6)
    new = harness.track(Scheduler(settings, harness.store))
    await new.renew_lease()
    assert new.leader and new.fence is not None
    assert new.fence.token == stale.token + 1

    # Work that only a leader may do is waiting: an alert in the poller's log, and an
    # idempotency key past its day.
    append(log, line(harness, "once"))
    with harness.store.transaction() as session:
        session.add(
            IntakeRequest(
                scope="s",
                key=f"k-{harness.tag}",
                body_sha256="0" * 64,
                created_at=datetime.now(UTC) - timedelta(days=2),
            )
        )

    def resumes() -> None:
        """`paused` wakes with its jobs due, before a renewal could tell it the news."""
        paused.leader, paused.fence = True, stale

    resumes()
    counts = await paused.run_poller("g")
    assert (counts.accepted, counts.dead_lettered) == (0, 0)
    assert harness.titles() == []
    assert not paused.leader and paused.fence is None, "a refused write makes it standby"

    resumes()
    await paused.purge_idempotency_keys()
    assert expired_keys(harness.store) == 1
    assert not paused.leader

    resumes()
    assert await paused.apply_evidence_retention() is None
    assert not paused.leader

    resumes()
    await paused.dispatch_outbox()
    assert not paused.leader

    # The new leader does the work, once.
    counts = await new.run_poller("g")
    assert counts.accepted == 1
    await new.purge_idempotency_keys()
    assert expired_keys(harness.store) == 0
    assert harness.titles() == ["once"]
    assert new.leader
