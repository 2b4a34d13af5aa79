"""Leader leases in the store, so only one scheduler instance fires jobs at a time.

A lease carries a fencing token that grows each time the lease changes hands. The leader
passes its `Fence` to every leader-only write, which checks it in the write's own
transaction: a leader paused past its lease (a stopped process, a long GC, a lost network)
still believes it leads when it resumes, and without the check its next job would run
beside the new leader's until its own renewal told it otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smokejumper.store.db import Store
from smokejumper.store.tables import SchedulerLease

SCHEDULER_LEASE = "scheduler"


class StaleLeader(Exception):
    """The lease this write was fenced with has expired or passed to another holder."""


@dataclass(frozen=True)
class Fence:
    name: str
    holder: str
    token: int

    def check(self, session: Session) -> None:
        """Raise StaleLeader unless this fence's term is still the lease's current one.

        The row is locked until the caller's transaction ends, so a new leader cannot take
        the lease between this check and the write it guards."""
        lease = session.get(SchedulerLease, self.name, with_for_update=True)
        if (
            lease is None
            or lease.holder != self.holder
            or lease.token != self.token
            or lease.expires_at <= datetime.now(UTC)
        ):
            raise StaleLeader(f"lease {self.name!r} term {self.token} of {self.holder} is over")

    def held(self, store: Store) -> bool:
        """The same check in a transaction of its own, for work that is not a store write."""
        try:
            with store.transaction() as session:
                self.check(session)
        except StaleLeader:
            return False
        return True


def acquire(store: Store, name: str, holder: str, ttl: timedelta) -> Fence | None:
    """A fence for `holder`'s term of lease `name` for the next `ttl`, or None while another
    holder's lease runs. Renewing keeps the token; taking the lease over increments it."""
    now = datetime.now(UTC)
    try:
        with store.transaction() as session:
            lease = session.get(SchedulerLease, name, with_for_update=True)
            if lease is None:
                session.add(
                    SchedulerLease(
                        name=name, holder=holder, token=1, expires_at=now + ttl, renewed_at=now
                    )
                )
                return Fence(name, holder, 1)
            if lease.holder != holder:
                if lease.expires_at > now:
                    return None
                lease.token += 1
                lease.holder = holder
            lease.expires_at = now + ttl
            lease.renewed_at = now
            return Fence(name, holder, lease.token)
    except IntegrityError:
        return None


def acquire_or_renew(store: Store, name: str, holder: str, ttl: timedelta) -> bool:
    """True when `holder` holds lease `name` for the next `ttl`."""
    return acquire(store, name, holder, ttl) is not None


def release(store: Store, name: str, holder: str) -> None:
    with store.transaction() as session:
        lease = session.scalars(
            select(SchedulerLease).where(
                SchedulerLease.name == name, SchedulerLease.holder == holder
            )
        ).first()
        if lease is not None:
            session.delete(lease)
