"""Leader leases in the store, so only one scheduler instance fires jobs at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from smokejumper.store.db import Store
from smokejumper.store.tables import SchedulerLease

SCHEDULER_LEASE = "scheduler"


def acquire_or_renew(store: Store, name: str, holder: str, ttl: timedelta) -> bool:
    """True when `holder` holds lease `name` for the next `ttl`."""
    now = datetime.now(UTC)
    try:
        with store.transaction() as session:
            lease = session.get(SchedulerLease, name, with_for_update=True)
            if lease is None:
                session.add(
                    SchedulerLease(name=name, holder=holder, expires_at=now + ttl, renewed_at=now)
                )
                return True
            if lease.holder != holder and lease.expires_at > now:
                return False
            lease.holder = holder
            lease.expires_at = now + ttl
            lease.renewed_at = now
            return True
    except IntegrityError:
        return False


def release(store: Store, name: str, holder: str) -> None:
    with store.transaction() as session:
        lease = session.scalars(
            select(SchedulerLease).where(
                SchedulerLease.name == name, SchedulerLease.holder == holder
            )
        ).first()
        if lease is not None:
            session.delete(lease)
