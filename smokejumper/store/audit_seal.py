"""What a store needs to seal the audit log: the HMAC key, and where the signed head
checkpoint goes (the evidence store, which the composition root hands in).

The checkpoint is written after the appending transaction commits, never before: a
checkpoint naming a row that was rolled back would look like truncation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SEAL = "audit_seal"
PENDING_HEAD = "audit_pending_head"


class HeadCheckpoints(Protocol):
    """One named object outside the database, overwritten with the latest head."""

    location: str

    def write(self, data: bytes) -> None: ...

    def read(self) -> bytes | None:
        """The last checkpoint written, or None when there is none."""
        ...


@dataclass(frozen=True)
class AuditSeal:
    key: bytes
    checkpoints: HeadCheckpoints | None = None


def _write_pending_head(session: Session) -> None:
    head: bytes | None = session.info.pop(PENDING_HEAD, None)
    seal: AuditSeal | None = session.info.get(SEAL)
    if head is None or seal is None or seal.checkpoints is None:
        return
    try:
        seal.checkpoints.write(head)
    except Exception as exc:
        # The rows are committed; a missed checkpoint only leaves the last one behind,
        # which verify accepts (it names an earlier row that still fits). The next append
        # writes a fresh one.
        log.warning("audit head checkpoint not written (%s): %s", type(exc).__name__, exc)


def _drop_pending_head(session: Session) -> None:
    session.info.pop(PENDING_HEAD, None)


def install(sessions: sessionmaker[Session]) -> None:
    event.listen(sessions, "after_commit", _write_pending_head)
    event.listen(sessions, "after_rollback", _drop_pending_head)
