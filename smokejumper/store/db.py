"""Engines and sessions for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from smokejumper.private_files import private_database
from smokejumper.store import audit_seal
from smokejumper.store.audit_seal import AuditSeal
from smokejumper.store.write_queue import WriteQueue

# How SQLite waits for the disk on commit: FULL syncs the WAL on every commit, so what a
# caller was told is stored (an alert's 202) survives a power loss; NORMAL syncs only at
# checkpoints, and a power loss can take the last commits.
Synchronous = Literal["full", "normal"]


def _sqlite_pragmas(dbapi_connection: Any, synchronous: Synchronous) -> None:
    # WAL lets the API, worker and scheduler processes read while one writes;
    # busy_timeout makes a writer wait for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
    cursor.close()


def make_engine(url: str, *, writer: bool = False, synchronous: Synchronous = "full") -> Engine:
    """An engine; on SQLite a `writer` engine takes the write lock when a transaction begins.

    pysqlite's own transaction handling defers BEGIN and mishandles SAVEPOINT, so SQLite
    connections run in autocommit mode and SQLAlchemy's begin event emits BEGIN itself:
    IMMEDIATE for writers (read-then-write logic cannot interleave, as with SELECT … FOR
    UPDATE on PostgreSQL) and a plain deferred BEGIN for readers.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:" and not path.startswith("file:"):
            private_database(Path(path))
        engine = create_engine(url, connect_args={"timeout": 15})
        begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

        def on_connect(dbapi_connection: Any, record: Any) -> None:
            _sqlite_pragmas(dbapi_connection, synchronous)
            dbapi_connection.isolation_level = None

        def on_begin(connection: Any) -> None:
            connection.exec_driver_sql(begin)

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "begin", on_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Store:
    """Owns the engine; hands out short transactions.

    `audit` is the audit log's key and head checkpoint store; a store without one can do
    everything but append to or verify the audit log.
    """

    def __init__(
        self, url: str, *, audit: AuditSeal | None = None, synchronous: Synchronous = "full"
    ) -> None:
        self.url = url
        self.audit = audit
        self.engine = make_engine(url, writer=True, synchronous=synchronous)
        # On PostgreSQL readers and writers share one pool; SQLite needs two (see above).
        self.read_engine = (
            make_engine(url, synchronous=synchronous) if url.startswith("sqlite") else self.engine
        )
        info = {audit_seal.SEAL: audit}
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False, info=info)
        audit_seal.install(self._sessions)
        self._writes = WriteQueue() if url.startswith("sqlite") else None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        # SQLite has one writer at a time: queue this process's writers (containment's
        # first) rather than on SQLite's busy handler, which sleeps in growing steps under
        # contention.
        queued = self._writes.held() if self._writes is not None else nullcontext()
        with queued, self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading; use `transaction()` to write."""
        with self._read_sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
