"""The hash-chained audit log detects edited and deleted rows, on both databases."""

from __future__ import annotations

from sqlalchemy import delete, update

from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.tables import AuditEntry


def write(store: Store, n: int) -> list[int]:
    ids = []
    for i in range(n):
        with store.transaction() as session:
            entry = audit.append(
                session,
                actor=f"user{i}",
                action="approval.approved",
                subject="INC-2026-0001",
                data={"step": "isolate", "i": i},
                entry_key=f"k{i}",
            )
            assert entry is not None
            ids.append(entry.id)
    return ids


def test_intact_chain_verifies_and_retries_append_nothing(migrated_store: Store) -> None:
    write(migrated_store, 5)
    with migrated_store.transaction() as session:
        again = audit.append(
            session, actor="user0", action="x", subject="s", data={}, entry_key="k0"
        )
    assert again is None
    assert audit.verify(migrated_store) == (5, [])


def test_edited_row_is_named(migrated_store: Store) -> None:
    ids = write(migrated_store, 4)
    with migrated_store.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == ids[2]).values(actor="mallory"))
    count, problems = audit.verify(migrated_store)
    assert count == 4
    assert [(p.entry_id, "edited" in p.problem) for p in problems] == [(ids[2], True)]


def test_deleted_row_breaks_the_chain_at_the_next_one(migrated_store: Store) -> None:
    ids = write(migrated_store, 4)
    with migrated_store.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    count, problems = audit.verify(migrated_store)
    assert count == 3
    assert len(problems) == 1
    assert problems[0].entry_id == ids[2]
    assert f"after row {ids[0]}" in problems[0].problem
