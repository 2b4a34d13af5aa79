"""Poller cursors: where each poller has read up to, kept in the store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from smokejumper.store.db import Store
from smokejumper.store.tables import PollerCursor


def load_cursor(store: Store, name: str) -> dict[str, Any]:
    with store.session() as session:
        row = session.get(PollerCursor, name)
        return dict(row.cursor) if row is not None else {}


def save_cursor(session: Session, name: str, cursor: dict[str, Any]) -> None:
    """Write inside the caller's transaction, so the cursor commits with what it covers."""
    row = session.get(PollerCursor, name, with_for_update=True)
    now = datetime.now(UTC)
    if row is None:
        session.add(PollerCursor(name=name, cursor=cursor, updated_at=now))
    else:
        row.cursor = cursor
        row.updated_at = now
