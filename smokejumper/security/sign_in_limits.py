"""Throttling console sign-ins: after too many failures for one account, or from one client
address, within a window, further attempts are refused (429) without checking the password.

Failures are counted from the audit log, where each one is recorded anyway: every API
replica sees the same count, and no other table is needed. A successful sign-in clears its
account's count (not its address's: signing in to one's own account must not reset the
guessing budget for others). Attempts running at the same moment may pass the limit by a
few; the limit is a brake on guessing, not an exact quota.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from smokejumper.store.tables import AuditEntry, User

FAILED = "console.sign_in_failed"
THROTTLED = "console.sign_in_throttled"
SIGNED_IN = "console.sign_in"


def account_label(session: Session, name: str) -> str:
    """What the audit log and the log say of a sign-in's user name: the name when it is an
    account, else a stable pseudonym. A password typed into the name field is then never
    kept, and failures for the same unknown name still count together."""
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    return f"unknown-account:{digest}"


@dataclass(frozen=True)
class SignInLimit:
    failures: int
    window: timedelta

    def retry_after(
        self, session: Session, account: str, address: str, now: datetime
    ) -> timedelta | None:
        """How long until `account` may try again from `address`; None when it may now."""
        window_start = now - self.window
        last_success = session.scalar(
            select(func.max(AuditEntry.at)).where(
                AuditEntry.action == SIGNED_IN, AuditEntry.subject == account
            )
        )
        account_start = max(window_start, last_success) if last_success else window_start
        waits = [
            self._wait(session, AuditEntry.subject == account, account_start, now),
            self._wait(session, _from(address), window_start, now),
        ]
        return max((wait for wait in waits if wait is not None), default=None)

    def _wait(
        self, session: Session, who: ColumnElement[bool], since: datetime, now: datetime
    ) -> timedelta | None:
        recent = session.scalars(
            select(AuditEntry.at)
            .where(AuditEntry.action == FAILED, AuditEntry.at > since, who)
            .order_by(AuditEntry.at.desc())
            .limit(self.failures)
        ).all()
        if len(recent) < self.failures:
            return None
        # Free again once the oldest of the last `failures` leaves the window.
        return max(recent[-1] + self.window - now, timedelta(seconds=1))

    def already_told(self, session: Session, account: str, address: str, now: datetime) -> bool:
        """Whether this account and address were refused already in this window: the audit
        log records a lockout once, not every attempt a script makes during it."""
        return (
            session.scalar(
                select(AuditEntry.id)
                .where(
                    AuditEntry.action == THROTTLED,
                    AuditEntry.subject == account,
                    AuditEntry.at > now - self.window,
                    _from(address),
                )
                .limit(1)
            )
            is not None
        )


def _from(address: str) -> ColumnElement[bool]:
    recorded: ColumnElement[str] = AuditEntry.data["address"].as_string()
    return recorded == address
