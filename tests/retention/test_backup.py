"""`smokejumper backup` / `restore`: a backup taken while the engine writes restores into
a fresh store equal to what it copied, with its evidence, and the audit chain verifies;
a corrupted or altered backup, an unknown schema and a non-empty target are refused."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text

from integrations.evidence.checkpoints import head_checkpoints
from integrations.evidence.local import LocalEvidenceStore
from smokejumper.config import Settings
from smokejumper.settings.audit import AuditSettings
from smokejumper.store.backup import is_empty
from smokejumper.store.db import Store
from smokejumper.store.open import open_store
from smokejumper.store.tables import (
    AlertRow,
    AuditEntry,
    Base,
    DeadLetter,
    EvidenceItem,
    Incident,
    TimelineEvent,
)
from tests.retention.conftest import add_incident, cli

TABLES: tuple[type[Base], ...] = (
    Incident,
    AlertRow,
    DeadLetter,
    TimelineEvent,
    EvidenceItem,
    AuditEntry,
)


def _rows(store: Store, model: type[Base]) -> dict[Any, dict[str, Any]]:
    columns = [c.key for c in model.__mapper__.column_attrs if c.key != "uri"]
    with store.session() as session:
        return {
            model.__mapper__.primary_key_from_instance(row)[0]: {
                name: getattr(row, name) for name in columns
            }
            for row in session.scalars(select(model))
        }


def _restored_settings(tmp_path: Path, url: str, settings: Settings) -> Settings:
    return Settings(
        data_dir=tmp_path / "restored",
        database_url=url,
        audit=AuditSettings(key_file=settings.audit_key_file),
    )


def test_a_backup_taken_during_writes_restores_equal_and_verifies(
    settings: Settings, store: Store, other_database: str, tmp_path: Path
) -> None:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    for number in range(1, 6):
        add_incident(store, evidence, number, text="someone@example.org")
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        number = 100
        while not stop.is_set():
            written.append(add_incident(store, evidence, number))
            number += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 3:
            stop.wait(0.01)
        made = cli(settings, "backup", "--out", str(tmp_path / "backup"))
        while len(written) < 3 + 3:
            stop.wait(0.01)
    finally:
        stop.set()
        writer.join()
    assert made.exit_code == 0, made.output
    assert "backup written to" in made.output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    backed_up = manifest["counts"]
    # Writes went on before and after the copy: the backup holds a snapshot in between.
    assert 5 + 3 <= backed_up["incidents"] < 5 + len(written)
    assert manifest["schema_revision"] and manifest["missing_evidence"] == []

    target = _restored_settings(tmp_path, other_database, settings)
    restored = cli(target, "restore", "--from", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    assert "audit log intact" in restored.output
    verified = cli(target, "audit", "verify")
    assert verified.exit_code == 0, verified.output

    again = open_store(target, head_checkpoints(target), create_key=False)
    try:
        for model in TABLES:
            copy = _rows(again, model)
            live = _rows(store, model)
            assert len(copy) == backed_up[model.__tablename__], model.__tablename__
            # Rows are only ever added by the writer: each restored row is the live one.
            assert all(live[key] == row for key, row in copy.items()), model.__tablename__
        # Evidence comes back under the new store's folder, byte for byte.
        objects = LocalEvidenceStore(target.evidence_directory)
        with again.session() as session:
            items = list(session.scalars(select(EvidenceItem)))
        assert len(items) == backed_up["evidence"]
        for item in items:
            assert item.uri.startswith(f"file://{target.evidence_directory.resolve()}")
            assert evidence.get(
                item.uri.replace(
                    str(target.evidence_directory.resolve()),
                    str(settings.evidence_directory.resolve()),
                )
            ) == objects.get(item.uri)
    finally:
        again.dispose()


def test_corrupt_or_foreign_backups_and_full_stores_are_refused(
    settings: Settings, store: Store, other_database: str, tmp_path: Path
) -> None:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    add_incident(store, evidence, 1, text="x@example.org")
    out = tmp_path / "backup"
    assert cli(settings, "backup", "--out", str(out)).exit_code == 0
    refused = cli(settings, "backup", "--out", str(out))
    assert refused.exit_code == 1 and "not an empty folder" in refused.output

    target = _restored_settings(tmp_path, other_database, settings)
    manifest = json.loads((out / "manifest.json").read_text())
    database = next(
        name for name in manifest["files"] if not name.startswith(("evidence", "audit"))
    )
    blob = next(name for name in manifest["files"] if name.startswith("evidence/"))
    for name in (database, blob):
        path = out / name
        original = path.read_bytes()
        middle = len(original) // 2
        path.write_bytes(original[:middle] + bytes([original[middle] ^ 1]) + original[middle + 1 :])
        bad = cli(target, "restore", "--from", str(out))
        assert bad.exit_code == 1, bad.output
        assert f"{name} does not match its checksum" in bad.output
        assert "nothing was restored" in bad.output
        path.write_bytes(original)

    # Under another deployment's key the log does not verify: SQLite is refused before
    # anything is replaced; PostgreSQL, verified once restored, says so and exits 1.
    stranger = tmp_path / "stranger.key"
    stranger.write_text(base64.b64encode(b"s" * 32).decode())
    wrong = Settings(
        data_dir=tmp_path / "wrong",
        database_url=other_database,
        audit=AuditSettings(key_file=stranger),
    )
    foreign = cli(wrong, "restore", "--from", str(out))
    assert foreign.exit_code == 1, foreign.output
    assert "does not verify" in foreign.output
    if other_database.startswith("sqlite"):
        assert "nothing was restored" in foreign.output and is_empty(other_database)
    else:
        dropped = create_engine(other_database)
        with dropped.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE alembic_version"))
        dropped.dispose()

    manifest["schema_revision"] = "9999"
    (out / "manifest.json").write_text(json.dumps(manifest))
    newer = cli(target, "restore", "--from", str(out))
    assert newer.exit_code == 1 and "schema revision 9999 is unknown" in newer.output
    (out / "manifest.json").unlink()
    missing = cli(target, "restore", "--from", str(out))
    assert missing.exit_code == 1 and "is not a backup: no manifest.json" in missing.output

    # Nothing above touched the target: it is still empty, and the key is required.
    keyless = Settings(data_dir=tmp_path / "keyless", database_url=other_database)
    no_key = cli(keyless, "restore", "--from", str(out))
    assert no_key.exit_code == 2 and "no audit key" in no_key.output
    assert is_empty(other_database)

    again = tmp_path / "again"
    assert cli(settings, "backup", "--out", str(again)).exit_code == 0
    full = cli(settings, "restore", "--from", str(again))
    assert full.exit_code == 1 and "the store is not empty" in full.output
    forced = cli(settings, "restore", "--from", str(again), "--force")
    assert forced.exit_code == 0, forced.output
    assert "audit log intact" in forced.output
