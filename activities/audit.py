"""Writing the hash-chained audit log from workflows."""

from __future__ import annotations

import asyncio

from smokejumper.contracts.bookkeeping import RECORD_AUDIT
from smokejumper.domain.incidents import AuditRecord
from smokejumper.store import audit
from smokejumper.store.db import Store


class AuditActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @RECORD_AUDIT.implementation
    async def record_audit(self, record: AuditRecord) -> bool:
        """Append the record; False when a retry finds it already written."""
        return await asyncio.to_thread(self._append, record)

    def _append(self, record: AuditRecord) -> bool:
        with self.store.transaction() as session:
            entry = audit.append(
                session,
                actor=record.actor,
                action=record.action,
                subject=record.subject,
                data=dict(record.data),
                entry_key=record.entry_key,
            )
        return entry is not None
