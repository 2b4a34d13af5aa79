"""Signing out revokes the session on the server, not only in the browser.

Session cookies are signed and carry no server state, so a copy of one taken before
sign-out (a shared machine, a proxy log, a stolen cookie) would otherwise keep working
until it expires. Signing out records the session id's hash until the cookie's own expiry;
a cookie whose session is recorded is treated as no session at all.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smokejumper.store.tables import RevokedSession


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def revoke(session: Session, sid: str, max_age_seconds: int) -> None:
    now = datetime.now(UTC)
    # Rows past their cookie's expiry protect nothing any more.
    session.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
    digest = _digest(sid)
    if session.get(RevokedSession, digest) is None:
        session.add(
            RevokedSession(
                sid_sha256=digest,
                revoked_at=now,
                expires_at=now + timedelta(seconds=max_age_seconds),
            )
        )


def is_revoked(session: Session, sid: str) -> bool:
    return (
        session.scalar(
            select(RevokedSession.sid_sha256).where(RevokedSession.sid_sha256 == _digest(sid))
        )
        is not None
    )
