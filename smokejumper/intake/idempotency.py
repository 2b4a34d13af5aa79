"""Idempotency keys of alert requests: a retry, or a concurrent twin, gets the first answer.

A key is claimed by inserting it: the unique (scope, key) of `intake_requests` lets exactly
one request through, whatever the timing (no read-then-write race); the others find its
row and wait for its answer. A key is kept for `KEY_TTL` (a day): a request with it after
that is new. A claim whose request never finished (the process died) is taken over by the
next request with the key after `STALE_CLAIM`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from smokejumper.store.db import Store
from smokejumper.store.leases import Fence
from smokejumper.store.tables import IntakeRequest

KEY_TTL = timedelta(hours=24)
STALE_CLAIM = timedelta(seconds=60)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Claimed:
    """This request is the first with its key: process it, then `finish` or `release`."""

    row_id: int


@dataclass(frozen=True)
class Answered:
    """The first request's answer."""

    status: int
    response: str


@dataclass(frozen=True)
class InProgress:
    """The first request is still being processed."""


@dataclass(frozen=True)
class OtherBody:
    """The key was first sent with another body."""


Outcome = Claimed | Answered | InProgress | OtherBody


def valid_key(key: str) -> bool:
    """Visible ASCII, 1 to 255 characters (what a header can carry unambiguously)."""
    return 0 < len(key) <= MAX_KEY_LENGTH and all("!" <= ch <= "~" for ch in key)


def claim(
    store: Store, scope: str, key: str, body_sha256: str, *, same_body: bool = True
) -> Outcome:
    """Claim `key` in `scope`, or say what became of the request that did. `same_body`:
    a key reused with another body is refused (`OtherBody`), not answered."""
    now = datetime.now(UTC)
    with store.transaction() as session:
        session.execute(
            delete(IntakeRequest).where(
                IntakeRequest.scope == scope,
                IntakeRequest.key == key,
                IntakeRequest.created_at < now - KEY_TTL,
            )
        )
        row = IntakeRequest(scope=scope, key=key, body_sha256=body_sha256, created_at=now)
        try:
            # On PostgreSQL a twin's insert waits here for the first one's commit, then fails.
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            pass
        else:
            return Claimed(row.id)
        first = session.scalars(
            select(IntakeRequest)
            .where(IntakeRequest.scope == scope, IntakeRequest.key == key)
            .with_for_update()
        ).one_or_none()
        if first is None:
            return InProgress()
        if same_body and first.body_sha256 != body_sha256:
            return OtherBody()
        if first.status is not None and first.response is not None:
            return Answered(first.status, first.response)
        if first.created_at < now - STALE_CLAIM:
            first.created_at = now
            first.body_sha256 = body_sha256
            return Claimed(first.id)
        return InProgress()


def finish(store: Store, row_id: int, status: int, response: str) -> None:
    with store.transaction() as session:
        session.execute(
            update(IntakeRequest)
            .where(IntakeRequest.id == row_id)
            .values(status=status, response=response)
        )


def release(store: Store, row_id: int) -> None:
    """Nothing was stored: the next request with the key is processed afresh."""
    with store.transaction() as session:
        session.execute(
            delete(IntakeRequest).where(IntakeRequest.id == row_id, IntakeRequest.status.is_(None))
        )


def purge_expired(store: Store, fence: Fence | None = None) -> int:
    """Drop keys older than `KEY_TTL`; returns how many. With a `fence`, only while its
    lease term lasts (leases.StaleLeader otherwise)."""
    with store.transaction() as session:
        if fence is not None:
            fence.check(session)
        result = session.execute(
            delete(IntakeRequest).where(IntakeRequest.created_at < datetime.now(UTC) - KEY_TTL)
        )
        return int(getattr(result, "rowcount", 0) or 0)
