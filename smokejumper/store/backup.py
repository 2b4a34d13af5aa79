"""`smokejumper backup` and `restore`: the store, its evidence and the audit log's head,
as one folder with a manifest of checksums.

SQLite is copied with its online backup API, a consistent snapshot taken while the engine
goes on writing. PostgreSQL is dumped with `pg_dump -Fc` and restored with `pg_restore`
and `psql`, in one transaction (all three must be on PATH). The head checkpoint is read
*before* the database is copied, so it never names a row the copy lacks (an older
checkpoint verifies; a newer one would read as deleted rows). Evidence objects are copied
*after*, those the copied rows point at: objects are written before their rows and
removed after them, so each is still there.

The evidence and checkpoint stores live in `integrations/`; the process hands them in.
The audit key is not in a backup: whoever holds both could rewrite the audit log.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, func, inspect, select, text, update
from sqlalchemy.engine import make_url

from smokejumper.private_files import PRIVATE_FILE, private_database, private_dir
from smokejumper.store.audit import verify_chain
from smokejumper.store.audit_seal import AuditSeal, HeadCheckpoints
from smokejumper.store.db import Store
from smokejumper.store.migrate import alembic_config, upgrade
from smokejumper.store.tables import (
    AlertRow,
    AuditEntry,
    Base,
    DeadLetter,
    EvidenceItem,
    Incident,
    TimelineEvent,
    User,
)

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "smokejumper.db"
POSTGRES_FILE = "database.dump"
HEAD_FILE = "audit-head.json"
EVIDENCE_DIR = "evidence"
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Counted into the manifest (what the backup holds) and checked for an empty target.
_COUNTED = (Incident, AlertRow, DeadLetter, TimelineEvent, EvidenceItem, AuditEntry, User)


class BackupError(Exception):
    """The backup or restore was refused or failed; the message says why and what to do."""


class ObjectStore(Protocol):
    """The evidence store's calls a backup needs (integrations.evidence.base.EvidenceStore)."""

    name: str

    def get(self, uri: str) -> bytes: ...

    def put(self, key: str, data: bytes) -> str: ...


@dataclass
class Manifest:
    created_at: str
    dialect: str
    schema_revision: str | None
    evidence_store: str | None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    # Evidence rows whose object was already gone from the store when copied.
    missing_evidence: list[int] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "created_at": self.created_at,
            "dialect": self.dialect,
            "schema_revision": self.schema_revision,
            "evidence_store": self.evidence_store,
            "files": self.files,
            "counts": self.counts,
            "missing_evidence": self.missing_evidence,
        }


@dataclass
class Restored:
    manifest: Manifest
    evidence_objects: int
    upgraded_to: str | None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1].split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


def libpq_url(url: str) -> tuple[str, dict[str, str]]:
    """The SQLAlchemy URL as pg_dump and pg_restore take it (no driver suffix), and the
    environment they run with: the password goes in PGPASSWORD, never on a command line
    that `ps` shows."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(
            f"{name} is not on PATH: install the PostgreSQL client of the server's major "
            f"version, or back up PostgreSQL yourself (docs/operations.md, 'Backup and "
            "restore': pg_dump -Fc / pg_restore --clean --if-exists --no-owner)"
        )
    return tool


@contextmanager
def _engine(url: str) -> Iterator[Any]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _revision(connection: Connection) -> str | None:
    if "alembic_version" not in inspect(connection).get_table_names():
        return None
    revision: str | None = connection.scalar(text("SELECT version_num FROM alembic_version"))
    return revision


def _count_rows(connection: Connection) -> dict[str, int]:
    present = set(inspect(connection).get_table_names())
    return {
        table.__tablename__: connection.scalar(select(func.count()).select_from(table)) or 0
        for table in _COUNTED
        if table.__tablename__ in present
    }


def _counts(url: str) -> dict[str, int]:
    with _engine(url) as engine, engine.connect() as connection:
        return _count_rows(connection)


def _evidence_rows(connection: Connection) -> list[tuple[int, str, str]]:
    if "evidence" not in inspect(connection).get_table_names():
        return []
    rows = connection.execute(
        select(EvidenceItem.id, EvidenceItem.sha256, EvidenceItem.uri).order_by(EvidenceItem.id)
    )
    return [(row[0], row[1], row[2]) for row in rows]


@contextmanager
def _snapshot(url: str, out: Path) -> Iterator[tuple[Connection, str]]:
    """The copy to read from, and the database file's name in `out`. SQLite: the copied
    file (a plain engine: the store's own sets WAL, which rewrites the header). PostgreSQL:
    a repeatable-read transaction whose snapshot pg_dump is told to dump, so the counts and
    the evidence copied are those of the dump, however the database moves meanwhile."""
    source = sqlite_path(url)
    if source is not None:
        _sqlite_copy(source, out / SQLITE_FILE)
        with _engine(f"sqlite:///{out / SQLITE_FILE}") as engine, engine.connect() as connection:
            yield connection, SQLITE_FILE
        return
    with (
        _engine(url) as engine,
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection,
        connection.begin(),
    ):
        snapshot = str(connection.scalar(text("SELECT pg_export_snapshot()")))
        _pg_dump(url, out / POSTGRES_FILE, snapshot)
        yield connection, POSTGRES_FILE


def _prepare_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} exists and is not an empty folder; name a new one")
    try:
        private_dir(out)
    except OSError as exc:
        # A link to nothing, a missing parent, no permission: say so, not a traceback.
        raise BackupError(f"cannot make the folder {out}: {exc.strerror or exc}") from None


def _record(manifest: Manifest, out: Path, relative: str) -> None:
    path = out / relative
    manifest.files[relative] = {"sha256": _sha256_file(path), "size": path.stat().st_size}


def backup(
    url: str,
    out: Path,
    evidence: ObjectStore | None,
    checkpoints: HeadCheckpoints | None,
) -> Manifest:
    """Write a backup of the store at `url` (and of `evidence`, when given) into `out`,
    a new or empty folder. The manifest is written last: a folder without one is not a
    backup."""
    _prepare_out(out)
    source = sqlite_path(url)
    dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
    if dialect == "sqlite" and (source is None or not source.is_file()):
        raise BackupError(f"no SQLite database at {source or url}")
    manifest = Manifest(
        created_at=datetime.now(UTC).isoformat(),
        dialect=dialect,
        schema_revision=None,
        evidence_store=evidence.name if evidence is not None else None,
    )
    head = checkpoints.read() if checkpoints is not None else None
    if head is not None:
        _write_private(out / HEAD_FILE, head)
        _record(manifest, out, HEAD_FILE)
    with _snapshot(url, out) as (connection, database):
        manifest.schema_revision = _revision(connection)
        manifest.counts = _count_rows(connection)
        if evidence is not None:
            _copy_evidence(connection, out, evidence, manifest)
    # Last: reading the copy must not change it after its checksum is taken.
    _record(manifest, out, database)
    _write_private(
        out / MANIFEST, json.dumps(manifest.document(), indent=2, sort_keys=True).encode()
    )
    return manifest


def _sqlite_copy(source: Path, target: Path) -> None:
    private_database(target)
    # Read-only: the backup must never take the engine's write lock. One step (pages=-1)
    # copies a single consistent snapshot while writers carry on in the WAL.
    with (
        closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
        # The copy is one self-contained file, not a WAL database with companions.
        dst.execute("PRAGMA journal_mode=DELETE")


def _pg_dump(url: str, target: Path, snapshot: str) -> None:
    tool = _pg_tool("pg_dump")
    private_database(target)
    dbname, env = libpq_url(url)
    done = subprocess.run(
        [
            tool,
            "--format=custom",
            "--no-owner",
            f"--snapshot={snapshot}",
            f"--file={target}",
            f"--dbname={dbname}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[-2000:]}")


def _copy_evidence(
    connection: Connection, out: Path, evidence: ObjectStore, manifest: Manifest
) -> None:
    folder = private_dir(out / EVIDENCE_DIR)
    copied: set[str] = set()
    for evidence_id, sha256, uri in _evidence_rows(connection):
        if sha256 in copied:
            continue
        try:
            data = evidence.get(uri)
        except Exception:
            manifest.missing_evidence.append(evidence_id)
            continue
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BackupError(
                f"evidence {evidence_id} in the store does not hash to its sha256 {sha256}: "
                "the evidence store was altered; nothing of this backup is usable"
            )
        _write_private(folder / sha256, data)
        _record(manifest, out, f"{EVIDENCE_DIR}/{sha256}")
        copied.add(sha256)


# --- restore -----------------------------------------------------------------------------


def read_manifest(source: Path) -> Manifest:
    """The backup's manifest, every file checked against its checksum."""
    path = source / MANIFEST
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BackupError(f"{source} is not a backup: no {MANIFEST}") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} cannot be read as a manifest: {exc}") from None
    try:
        if document["format"] != FORMAT:
            raise BackupError(f"{path}: backup format {document['format']!r} is not {FORMAT}")
        manifest = Manifest(
            created_at=str(document["created_at"]),
            dialect=str(document["dialect"]),
            schema_revision=document["schema_revision"],
            evidence_store=document["evidence_store"],
            files=dict(document["files"]),
            counts=dict(document["counts"]),
            missing_evidence=list(document["missing_evidence"]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"{path} is not a manifest this release writes ({exc})") from None
    for relative, expected in manifest.files.items():
        _check_name(relative, expected)
        file = (source / relative).resolve()
        if not file.is_relative_to(source.resolve()) or not file.is_file():
            raise BackupError(f"the backup lacks {relative}, which its manifest lists")
        if file.stat().st_size != expected.get("size") or _sha256_file(file) != expected.get(
            "sha256"
        ):
            raise BackupError(
                f"{relative} does not match its checksum in the manifest: the backup is "
                "corrupt or was altered; nothing was restored"
            )
    database = SQLITE_FILE if manifest.dialect == "sqlite" else POSTGRES_FILE
    if database not in manifest.files:
        raise BackupError(f"the backup's manifest lists no {database}")
    return manifest


def _check_name(relative: str, expected: Any) -> None:
    """Only the names a backup writes: the database, the head checkpoint, and evidence
    objects named by their SHA-256. Checked before anything is replaced: an object is put
    back under its name, after the database."""
    if not isinstance(expected, dict):
        raise BackupError(f"the backup's manifest entry for {relative!r} is not a checksum")
    if relative in (SQLITE_FILE, POSTGRES_FILE, HEAD_FILE):
        return
    digest = relative.removeprefix(f"{EVIDENCE_DIR}/")
    if digest == relative or _SHA256.fullmatch(digest) is None or expected.get("sha256") != digest:
        raise BackupError(
            f"the backup's manifest lists {relative!r}, which no backup writes (evidence is "
            f"{EVIDENCE_DIR}/<its sha256>): the backup was altered; nothing was restored"
        )


def _known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {revision.revision for revision in script.walk_revisions()}


def is_empty(url: str) -> bool:
    """Whether the store holds nothing a restore would overwrite."""
    path = sqlite_path(url)
    if path is not None and (not path.is_file() or path.stat().st_size == 0):
        return True
    return not any(_counts(url).values())


def restore(
    url: str,
    source: Path,
    evidence: ObjectStore | None,
    checkpoints: HeadCheckpoints | None,
    *,
    force: bool = False,
    key: bytes | None = None,
) -> Restored:
    """Put the backup in `source` in place of the store at `url` (and its evidence and
    head checkpoint). Stop the engine first. Refused, changing nothing, when a checksum
    does not match, the schema is unknown to this release, the store is not empty (unless
    `force`), or, given the audit `key`, a SQLite backup's audit log does not verify
    under it (a PostgreSQL one is verified once restored)."""
    manifest = read_manifest(source)
    dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
    if manifest.dialect != dialect:
        raise BackupError(
            f"this is a {manifest.dialect} backup and the store is {dialect}: move between "
            "databases by other means"
        )
    revision = manifest.schema_revision
    if revision is not None and revision not in _known_revisions():
        raise BackupError(
            f"the backup's schema revision {revision} is unknown to this release (written by "
            "a newer one?): restore it with the release that wrote it"
        )
    if manifest.evidence_store is not None and evidence is None:
        raise BackupError("the backup holds evidence and no evidence store was given")
    if not force and not is_empty(url):
        raise BackupError(
            "the store is not empty; restoring would replace it. Give --force to replace it "
            "(stop the engine first)"
        )
    target = sqlite_path(url)
    head = source / HEAD_FILE
    if manifest.dialect == "sqlite":
        if target is None:
            raise BackupError(f"cannot restore into {url}: not a SQLite file")
        with tempfile.TemporaryDirectory() as scratch:
            staged = Path(scratch) / SQLITE_FILE
            shutil.copyfile(source / SQLITE_FILE, staged)
            _check_sqlite(staged)
            if key is not None:
                _verify_copy(staged, key, head.read_bytes() if head.is_file() else None)
            _sqlite_restore(staged, target)
    else:
        _pg_restore(url, source / POSTGRES_FILE)
    upgraded = None
    if revision != _head():
        upgraded = upgrade(url)
    objects = 0
    if evidence is not None:
        objects = _restore_evidence(url, source, manifest, evidence)
    if checkpoints is not None and HEAD_FILE in manifest.files:
        checkpoints.write(head.read_bytes())
    return Restored(manifest, objects, upgraded)


def _check_sqlite(copy: Path) -> None:
    """The copy reads as a whole SQLite database: a cut or garbled file is refused here,
    before the target is touched, not half-way through replacing it."""
    try:
        with closing(sqlite3.connect(f"file:{copy}?mode=ro", uri=True)) as database:
            found = [row[0] for row in database.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        found = [str(exc)]
    if found != ["ok"]:
        raise BackupError(
            f"the backup's {SQLITE_FILE} is not a sound SQLite database ({'; '.join(found[:3])})"
            ": nothing was restored"
        )


class _BackupHead:
    """The backup's head checkpoint, read only: what the copy is verified against."""

    location = HEAD_FILE

    def __init__(self, data: bytes | None) -> None:
        self.data = data

    def write(self, data: bytes) -> None:
        raise BackupError("a backup's head checkpoint is never written")

    def read(self) -> bytes | None:
        return self.data


def _verify_copy(copy: Path, key: bytes, head: bytes | None) -> None:
    store = Store(f"sqlite:///{copy}", audit=AuditSeal(key, _BackupHead(head)))
    try:
        problems = verify_chain(store).problems
    finally:
        store.dispose()
    if problems:
        first = "; ".join(f"row {p.entry_id}: {p.problem}" for p in problems[:3])
        raise BackupError(
            f"the backup's audit log does not verify under this deployment's audit key "
            f"({first}): is audit.key_file the key that wrote it? nothing was restored"
        )


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _sqlite_restore(copy: Path, target: Path) -> None:
    private_database(target)
    # Through SQLite, not a file copy: pages go into the target under its own locks and
    # journal, so a -wal file left beside it cannot be replayed over the restored pages.
    with (
        closing(sqlite3.connect(copy)) as src,
        closing(sqlite3.connect(target, timeout=30)) as dst,
    ):
        src.backup(dst)


def _pg_restore(url: str, dump: Path) -> None:
    """pg_restore turns the dump into SQL; psql runs it in one transaction after dropping
    this release's tables. `pg_restore --clean` alone replaces only the tables the dump
    has: a table or foreign key a newer migration made would keep the replaced store's
    rows, or stop the old tables from being dropped. All or nothing: the transaction
    commits only once pg_restore has written all of the dump, so a restore that fails
    (or is killed) leaves the store as it was. The SQL goes through a pipe, never a file:
    it holds the store's rows, raw alerts among them."""
    tool = _pg_tool("pg_restore")
    psql = _pg_tool("psql")
    dbname, env = libpq_url(url)
    drop = "".join(
        f'DROP TABLE IF EXISTS "{name}" CASCADE;\n'
        for name in [*Base.metadata.tables, "alembic_version"]
    )
    with tempfile.TemporaryFile() as dump_errors, tempfile.TemporaryFile() as run_errors:
        making = subprocess.Popen(
            [tool, "--clean", "--if-exists", "--no-owner", "--file=-", str(dump)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=dump_errors,
        )
        running = subprocess.Popen(
            [psql, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", f"--dbname={dbname}"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=run_errors,
        )
        source, sink = making.stdout, running.stdin
        assert source is not None and sink is not None  # both PIPE
        try:
            sink.write(f"BEGIN;\n{drop}".encode())
            while chunk := source.read(1 << 16):
                sink.write(chunk)
            # Without COMMIT nothing stays: psql's session ends and PostgreSQL rolls back.
            sink.write(b"COMMIT;\n" if making.wait() == 0 else b"ROLLBACK;\n")
            sink.close()
        except BrokenPipeError:
            making.kill()  # psql stopped at an error; its message is in run_errors
        ran, made = running.wait(), making.wait()
        for code, errors in ((ran, run_errors), (made, dump_errors)):
            if code != 0:
                errors.seek(0)
                said = errors.read().decode(errors="replace").strip()[-2000:]
                raise BackupError(f"the restore failed and was rolled back: {said}")


def _restore_evidence(url: str, source: Path, manifest: Manifest, evidence: ObjectStore) -> int:
    """Put each object back and point its rows at the address this store gives it (a
    `local` store's URI names its folder, which may have moved)."""
    objects = 0
    with _engine(url) as engine, engine.begin() as connection:
        for relative in manifest.files:
            if not relative.startswith(f"{EVIDENCE_DIR}/"):
                continue
            key = relative.removeprefix(f"{EVIDENCE_DIR}/")
            uri = evidence.put(key, (source / relative).read_bytes())
            connection.execute(
                update(EvidenceItem).where(EvidenceItem.sha256 == key).values(uri=uri)
            )
            objects += 1
    return objects
