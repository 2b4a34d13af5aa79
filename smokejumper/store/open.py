"""A store opened the way a deployment's processes open it: with the audit key."""

from __future__ import annotations

from smokejumper.config import Settings
from smokejumper.store.audit_key import audit_key
from smokejumper.store.audit_seal import AuditSeal, HeadCheckpoints
from smokejumper.store.db import Store


def open_store(
    settings: Settings, checkpoints: HeadCheckpoints | None = None, *, create_key: bool = True
) -> Store:
    """The deployment's store; `checkpoints` (from integrations/evidence, handed in by the
    process that assembles the parts) receives the audit log's signed head."""
    seal = AuditSeal(audit_key(settings, create=create_key), checkpoints)
    return Store(
        settings.effective_database_url, audit=seal, synchronous=settings.sqlite_synchronous
    )
