"""The keyed audit chain: every way of tampering with the rows is caught by
`smokejumper audit verify` (exit 1, naming the row), on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner, Result

from cli.main import app
from integrations.evidence.checkpoints import LocalHeadCheckpoints, head_checkpoints
from smokejumper.config import Settings
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.open import open_store
from smokejumper.store.tables import AuditEntry


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    upgrade(database_url)
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings, head_checkpoints(settings))
    yield store
    store.dispose()


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


def verify_cli(settings: Settings) -> Result:
    env = {
        "SMOKEJUMPER_DATA_DIR": str(settings.data_dir),
        "SMOKEJUMPER_DATABASE_URL": str(settings.database_url),
    }
    return CliRunner().invoke(app, ["audit", "verify"], env=env)


def assert_caught(settings: Settings, row: int, *words: str) -> str:
    result = verify_cli(settings)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(f"row {row}:")]
    assert lines, f"row {row} not named in:\n{result.output}"
    assert any(all(word in line for word in words) for line in lines), result.output
    return result.output


def rows(store: Store) -> list[AuditEntry]:
    with store.session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_intact_chain_verifies_and_retries_append_nothing(store: Store, settings: Settings) -> None:
    write(store, 5)
    with store.transaction() as session:
        again = audit.append(
            session, actor="user0", action="x", subject="s", data={}, entry_key="k0"
        )
    assert again is None
    assert audit.verify(store) == (5, [])
    result = verify_cli(settings)
    assert result.exit_code == 0, result.output
    assert "audit log intact: 5 rows" in result.output
    assert "head matches the checkpoint" in result.output
    # The key lives in the data dir, owner-only, and not in the database.
    assert (settings.data_dir / "audit.key").stat().st_mode & 0o777 == 0o600


def test_deleting_the_last_rows_is_caught_by_the_checkpoint(
    store: Store, settings: Settings
) -> None:
    ids = write(store, 5)
    with store.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids[3:])))
    # What is left is a chain that fits: only the signed head says rows are missing.
    output = assert_caught(settings, ids[4], "missing", "last rows were deleted")
    assert f"ends at row {ids[2]} with 3 rows" in output


def test_a_deleted_middle_row_with_unkeyed_hashes_recomputed_is_caught(
    store: Store, settings: Settings
) -> None:
    ids = write(store, 5)
    with store.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id == ids[2]))
    # The forger relinks the rest with the hash anyone can compute.
    prev = next(e.hash for e in rows(store) if e.id == ids[1])
    with store.transaction() as session:
        for entry in session.scalars(
            select(AuditEntry).where(AuditEntry.id > ids[2]).order_by(AuditEntry.id)
        ):
            entry.prev_hash = prev
            entry.hash = audit.legacy_hash(
                prev, entry.at, entry.actor, entry.action, entry.subject, entry.data
            )
            prev = entry.hash
    assert_caught(settings, ids[3], "edited")
    assert_caught(settings, ids[4], "edited")


def test_rows_passed_off_as_legacy_are_caught(store: Store, settings: Settings) -> None:
    ids = write(store, 4)
    with store.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    # Every row rewritten as an unkeyed chain from before the key, as if never keyed.
    prev = audit.GENESIS
    with store.transaction() as session:
        for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
            entry.keyed = False
            entry.prev_hash = prev
            entry.hash = audit.legacy_hash(
                prev, entry.at, entry.actor, entry.action, entry.subject, entry.data
            )
            prev = entry.hash
    assert_caught(settings, ids[3], "rewritten without the key")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "mallory"),
        ("action", "approval.denied"),
        ("subject", "INC-2026-0002"),
        ("data", {"step": "isolate", "i": 99}),
        ("entry_key", "other"),
        ("at", "2020-01-01T00:00:00+00:00"),
        ("hash", "f" * 64),
    ],
)
def test_an_edited_column_names_its_row(
    store: Store, settings: Settings, column: str, value: Any
) -> None:
    ids = write(store, 4)
    if column == "at":
        from datetime import datetime

        value = datetime.fromisoformat(value)
    with store.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == ids[1]).values({column: value}))
    assert_caught(settings, ids[1], "edited")


def test_an_edited_id_is_caught(store: Store, settings: Settings) -> None:
    ids = write(store, 4)
    moved = ids[3] + 100
    with store.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == ids[3]).values(id=moved))
    assert_caught(settings, moved, "edited")
    # Moving a middle row breaks the chain after it as well.
    with store.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == ids[1]).values(id=ids[1] + 50))
    assert_caught(settings, ids[1] + 50, "edited")


def test_an_edited_prev_hash_breaks_the_link(store: Store, settings: Settings) -> None:
    ids = write(store, 3)
    with store.transaction() as session:
        session.execute(
            update(AuditEntry).where(AuditEntry.id == ids[2]).values(prev_hash="e" * 64)
        )
    assert_caught(settings, ids[2], "chain broken", f"after row {ids[1]}")


def test_a_deleted_or_forged_checkpoint_is_caught(store: Store, settings: Settings) -> None:
    ids = write(store, 3)
    checkpoint = LocalHeadCheckpoints(settings.evidence_directory)
    genuine = checkpoint.read()
    assert genuine is not None
    checkpoint.path.unlink()
    assert_caught(settings, ids[2], "no head checkpoint")
    checkpoint.write(genuine.replace(b'"count":3', b'"count":2'))
    assert_caught(settings, ids[2], "not signed with the audit key")


def test_rows_from_before_the_key_verify_as_legacy(store: Store, settings: Settings) -> None:
    """A log written before migration 0007 (unkeyed) keeps verifying; keyed rows chain on."""
    from datetime import UTC, datetime

    prev = audit.GENESIS
    with store.transaction() as session:
        for i in range(2):
            at = datetime(2026, 1, 1, tzinfo=UTC)
            digest = audit.legacy_hash(prev, at, "old", "x", "INC-1", {"i": i})
            session.add(
                AuditEntry(
                    at=at,
                    actor="old",
                    action="x",
                    subject="INC-1",
                    data={"i": i},
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
    ids = write(store, 2)
    result = verify_cli(settings)
    assert result.exit_code == 0, result.output
    assert f"legacy entries up to row {ids[0] - 1}: unkeyed" in result.output
    assert "audit log intact: 4 rows" in result.output
    # A legacy row edited (and rehashed the old way) still breaks the keyed row after it.
    with store.transaction() as session:
        legacy = session.scalars(select(AuditEntry).where(AuditEntry.keyed.is_(False))).all()
        legacy[-1].actor = "mallory"
        legacy[-1].hash = audit.legacy_hash(
            legacy[-1].prev_hash, legacy[-1].at, "mallory", "x", "INC-1", legacy[-1].data
        )
    assert_caught(settings, ids[0], "chain broken")


def test_verify_without_the_key_fails_clearly(store: Store, settings: Settings) -> None:
    write(store, 1)
    (settings.data_dir / "audit.key").unlink()
    result = verify_cli(settings)
    assert result.exit_code == 2
    assert "no audit key" in result.output


def test_a_rolled_back_append_leaves_the_checkpoint_alone(store: Store, settings: Settings) -> None:
    write(store, 2)
    checkpoint = LocalHeadCheckpoints(settings.evidence_directory)
    before = checkpoint.read()
    with pytest.raises(RuntimeError), store.transaction() as session:
        audit.append(session, actor="a", action="b", subject="c", data={})
        raise RuntimeError("the caller's work failed")
    assert checkpoint.read() == before
    assert verify_cli(settings).exit_code == 0


def test_a_log_of_legacy_rows_verifies_before_the_key_exists(
    database_url: str, tmp_path: Path
) -> None:
    """Right after the upgrade of an old install, before anything appended (and so before
    the key was made), verify checks the unkeyed chain and says so."""
    from datetime import UTC, datetime

    upgrade(database_url)
    settings = Settings(data_dir=tmp_path / "fresh", database_url=database_url)
    store = Store(database_url)
    try:
        at = datetime(2026, 1, 1, tzinfo=UTC)
        with store.transaction() as session:
            session.add(
                AuditEntry(
                    at=at,
                    actor="old",
                    action="x",
                    subject="INC-1",
                    data={},
                    prev_hash=audit.GENESIS,
                    hash=audit.legacy_hash(audit.GENESIS, at, "old", "x", "INC-1", {}),
                )
            )
    finally:
        store.dispose()
    result = verify_cli(settings)
    assert result.exit_code == 0, result.output
    assert "legacy entries up to row" in result.output
    assert "no keyed rows yet" in result.output
    assert not (settings.data_dir / "audit.key").exists()


def test_a_process_with_another_key_says_so_when_it_appends(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    ids = write(store, 1)
    from smokejumper.store.audit_seal import AuditSeal

    stranger = Store(str(settings.database_url), audit=AuditSeal(b"z" * 32))
    try:
        with (
            caplog.at_level("ERROR", logger="smokejumper.store.audit"),
            stranger.transaction() as session,
        ):
            audit.append(session, actor="a", action="b", subject="c", data={})
    finally:
        stranger.dispose()
    assert f"audit row {ids[0]} does not verify under this process's audit key" in caplog.text
