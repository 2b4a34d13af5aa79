"""The audit log: append-only and hash-chained, so an edited or deleted row is detected.

Each row's hash covers its content and the previous row's hash; `verify` walks the chain
and names the first row that does not fit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from smokejumper.store.db import Store
from smokejumper.store.tables import AuditEntry

GENESIS = "0" * 64


def entry_hash(
    prev_hash: str, at: datetime, actor: str, action: str, subject: str, data: dict[str, Any]
) -> str:
    canonical = json.dumps(
        {
            "prev": prev_hash,
            "at": at.astimezone(UTC).isoformat(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "data": data,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    data: dict[str, Any],
    entry_key: str | None = None,
) -> AuditEntry | None:
    """Append one row inside the caller's transaction; None if `entry_key` was written."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # Appenders queue here, so two never chain onto the same previous row.
        session.execute(text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
    if entry_key is not None and session.scalar(
        select(AuditEntry.id).where(AuditEntry.entry_key == entry_key)
    ):
        return None
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    prev_hash = last.hash if last is not None else GENESIS
    at = datetime.now(UTC)
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        data=data,
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, at, actor, action, subject, data),
        entry_key=entry_key,
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainProblem:
    entry_id: int
    problem: str


def verify(store: Store) -> tuple[int, list[ChainProblem]]:
    """(rows checked, problems); an edited row breaks its own hash, a deleted one the link."""
    problems: list[ChainProblem] = []
    count = 0
    prev_hash = GENESIS
    prev_id: int | None = None
    with store.session() as session:
        for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
            count += 1
            if entry.prev_hash != prev_hash:
                after = f"after row {prev_id}" if prev_id is not None else "at the start"
                problems.append(
                    ChainProblem(entry.id, f"chain broken {after}: a row was deleted or reordered")
                )
            expected = entry_hash(
                entry.prev_hash, entry.at, entry.actor, entry.action, entry.subject, entry.data
            )
            if entry.hash != expected:
                problems.append(ChainProblem(entry.id, "content does not match its hash: edited"))
            prev_hash = entry.hash
            prev_id = entry.id
    return count, problems
