"""Backups against what a store holds today: case work written while the backup runs
comes back with a verifying chain; an older backup replaces a store already at this
release's schema (PostgreSQL kept the newer tables and refused); a manifest naming files
no backup writes is refused before anything is replaced."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from integrations.evidence.checkpoints import head_checkpoints
from integrations.evidence.local import LocalEvidenceStore
from smokejumper.config import Settings
from smokejumper.incidents import case_work, tasks
from smokejumper.settings.audit import AuditSettings
from smokejumper.store import audit
from smokejumper.store.backup import is_empty
from smokejumper.store.db import Store
from smokejumper.store.migrate import current_revision, head_revision, upgrade
from smokejumper.store.open import open_store
from smokejumper.store.tables import IncidentNote, IncidentTask
from tests.retention.conftest import add_incident, cli

_LATER = {"state", "completed_by", "completed_at", "completion_note"}


def _at(settings: Settings, url: str, folder: Path) -> Settings:
    """Another store under the same deployment's audit key."""
    return Settings(
        data_dir=folder, database_url=url, audit=AuditSettings(key_file=settings.audit_key_file)
    )


def test_case_work_written_during_a_backup_restores_intact(
    settings: Settings, store: Store, other_database: str, tmp_path: Path
) -> None:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    add_incident(store, evidence, 1)
    stop = threading.Event()
    done: list[int] = []

    def keep_working() -> None:
        while not stop.is_set():
            n = len(done)
            case_work.add_note(
                store, "INC-2026-0001", f"note {n} ☃ \u202e", author="lee", via="api"
            )
            task = tasks.create(
                store, "INC-2026-0001", tasks.TaskCreate(title=f"task {n}"), by="lee", via="api"
            )
            tasks.complete_task(store, "INC-2026-0001", task.id, f"done {n}", by="lee", via="api")
            done.append(task.id)

    writer = threading.Thread(target=keep_working)
    writer.start()
    try:
        while len(done) < 3:
            stop.wait(0.01)
        made = cli(settings, "backup", "--out", str(tmp_path / "backup"))
        while len(done) < 6:
            stop.wait(0.01)
    finally:
        stop.set()
        writer.join()
    assert made.exit_code == 0, made.output

    target = _at(settings, other_database, tmp_path / "restored")
    restored = cli(target, "restore", "--from", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    assert cli(target, "audit", "verify").exit_code == 0
    again = open_store(target, head_checkpoints(target), create_key=False)
    try:
        for model in (IncidentNote, IncidentTask):
            with again.session() as copy, store.session() as live:
                rows: list[Any] = list(copy.scalars(select(model)))
                assert len(rows) >= 3
                for row in rows:
                    original = live.get(model, row.id)
                    assert original is not None
                    # A task is completed after it is made: the snapshot may fall between.
                    names = [c.key for c in model.__mapper__.column_attrs if c.key not in _LATER]
                    assert [getattr(row, c) for c in names] == [getattr(original, c) for c in names]
    finally:
        again.dispose()


def test_an_older_backup_replaces_a_store_at_this_schema(
    settings: Settings, store: Store, other_database: str, tmp_path: Path
) -> None:
    # The store to replace: this release's schema, with case work in the newer tables.
    evidence = LocalEvidenceStore(settings.evidence_directory)
    add_incident(store, evidence, 1)
    case_work.add_note(store, "INC-2026-0001", "newer store", author="lee", via="api")
    # A backup taken before the case-work tables existed.
    old = _at(settings, other_database, tmp_path / "old")
    upgrade(other_database, "0015")
    with Store(other_database).transaction() as session:
        session.execute(
            text(
                "INSERT INTO incidents (ref, fingerprint, kind, severity, title, status, route,"
                " workflow_id, principal, target, labels, owasp, atlas, alert_count,"
                " opened_at, updated_at) VALUES ('INC-OLD', 'fp', 'k', 'high', 't', 'open',"
                " '{}', 'wf', '{}', '{}', '{}', '[]', '[]', 0, :at, :at)"
            ),
            {"at": "2026-01-01 00:00:00"},
        )
    old_store = open_store(old, head_checkpoints(old), create_key=False)
    with old_store.transaction() as session:
        audit.append(session, actor="lee", action="incident.close", subject="INC-OLD", data={})
    old_store.dispose()
    made = cli(old, "backup", "--out", str(tmp_path / "backup"))
    assert made.exit_code == 0 and "at schema 0015" in made.output, made.output

    restored = cli(settings, "restore", "--from", str(tmp_path / "backup"), "--force")
    assert restored.exit_code == 0, restored.output
    assert f"upgraded to revision {head_revision()}" in restored.output
    assert current_revision(settings.effective_database_url) == head_revision()
    with store.session() as session:
        refs = list(session.scalars(text("SELECT ref FROM incidents")))
        notes = list(session.scalars(select(IncidentNote)))
    # The older store whole: none of the replaced store's rows survive in newer tables.
    assert (refs, notes) == (["INC-OLD"], [])
    assert cli(settings, "audit", "verify").exit_code == 0


def test_a_manifest_naming_what_no_backup_writes_is_refused_before_anything_changes(
    settings: Settings, store: Store, other_database: str, tmp_path: Path
) -> None:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    add_incident(store, evidence, 1)
    out = tmp_path / "backup"
    assert cli(settings, "backup", "--out", str(out)).exit_code == 0
    manifest_path = out / "manifest.json"
    original = manifest_path.read_text()
    target = _at(settings, other_database, tmp_path / "restored")
    payload = b"#!/bin/sh\necho planted\n"
    digest = hashlib.sha256(payload).hexdigest()
    (out / "evidence" / "planted").write_bytes(payload)
    (out / "evidence" / digest).write_bytes(payload)
    wrong = "0" * 64
    (out / "evidence" / wrong).write_bytes(payload)
    for name in ("evidence/planted", "evidence/../evidence/" + digest, f"evidence/{wrong}"):
        # Whoever alters a backup can write its manifest's checksums too.
        manifest = json.loads(original)
        manifest["files"][name] = {"sha256": digest, "size": len(payload)}
        manifest_path.write_text(json.dumps(manifest))
        refused = cli(target, "restore", "--from", str(out))
        assert refused.exit_code == 1, (name, refused.output)
        assert "which no backup writes" in refused.output and "nothing was restored" in (
            refused.output
        )
        assert is_empty(other_database)
    manifest_path.write_text(original)
    assert cli(target, "restore", "--from", str(out)).exit_code == 0


def test_a_restore_that_breaks_halfway_leaves_the_store_as_it_was(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    for number in range(1, 40):
        add_incident(store, evidence, number, text="x" * 400)
    out = tmp_path / "backup"
    assert cli(settings, "backup", "--out", str(out)).exit_code == 0
    case_work.add_note(store, "INC-2026-0001", "written after the backup", author="lee", via="api")
    # Cut the database in the middle, and make the manifest agree: what a restore
    # half-written by a full disk, or a dump that breaks, looks like.
    manifest = json.loads((out / "manifest.json").read_text())
    name = next(n for n in manifest["files"] if not n.startswith(("evidence", "audit")))
    cut = (out / name).read_bytes()
    cut = cut[: len(cut) * 2 // 3]
    (out / name).write_bytes(cut)
    manifest["files"][name] = {"sha256": hashlib.sha256(cut).hexdigest(), "size": len(cut)}
    (out / "manifest.json").write_text(json.dumps(manifest))

    broken = cli(settings, "restore", "--from", str(out), "--force")
    assert broken.exit_code == 1, broken.output
    assert "nothing was restored" in broken.output or "rolled back" in broken.output
    with store.session() as session:
        notes = [n.text for n in session.scalars(select(IncidentNote))]
        count = len(list(session.scalars(text("SELECT id FROM incidents"))))
    assert (notes, count) == (["written after the backup"], 39)
    assert cli(settings, "audit", "verify").exit_code == 0


def test_links_in_and_to_a_backup_folder_are_refused_with_a_message(
    settings: Settings, store: Store, other_database: str, tmp_path: Path
) -> None:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    add_incident(store, evidence, 1)
    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "nowhere")
    refused = cli(settings, "backup", "--out", str(dangling))
    assert refused.exit_code == 1 and "cannot make the folder" in refused.output, refused.output

    out = tmp_path / "backup"
    assert cli(settings, "backup", "--out", str(out)).exit_code == 0
    # An evidence object swapped for a link out of the backup, with a matching manifest.
    outside = tmp_path / "outside"
    outside.write_bytes(b"not from this backup")
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    (out / "evidence" / digest).symlink_to(outside)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"][f"evidence/{digest}"] = {"sha256": digest, "size": 20}
    (out / "manifest.json").write_text(json.dumps(manifest))
    target = _at(settings, other_database, tmp_path / "restored")
    linked = cli(target, "restore", "--from", str(out))
    assert linked.exit_code == 1 and f"lacks evidence/{digest}" in linked.output, linked.output
    assert is_empty(other_database)
