"""Migrated databases for tests: copied from one database migrated once per test session,
instead of running every migration again for each test (a third of a second each, on
SQLite and on PostgreSQL, over more than a thousand tests).

The copy is what `upgrade(url)` leaves behind: the template is made by `upgrade` itself.
A SQLite file that is not empty, or a PostgreSQL database a connection is open to, is
upgraded for real. A PostgreSQL `url` must name a database just created empty
(`postgres_url`): it is dropped and created again from the template.
The migrations themselves are tested by tests/store/test_migrations.py, which always runs
them.
"""

from __future__ import annotations

import atexit
import sqlite3
import tempfile
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from smokejumper.store.migrate import upgrade

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
_templates: dict[str, str] = {}


def migrated(url: str) -> None:
    """Bring the empty database at `url` to the head revision, as `upgrade(url)` does."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        _copy_sqlite(url, Path(parsed.database))
    elif parsed.get_backend_name() == "postgresql" and parsed.database:
        _copy_postgres(url, parsed.database)
    else:
        upgrade(url)


def _copy_sqlite(url: str, path: Path) -> None:
    if path.exists() and path.stat().st_size > 0:
        upgrade(url)
        return
    template = _templates.get("sqlite")
    if template is None:
        template = str(Path(tempfile.mkdtemp(prefix="smokejumper-template-")) / "head.db")
        upgrade(f"sqlite:///{template}")
        _templates["sqlite"] = template
    with sqlite3.connect(template) as source, sqlite3.connect(path) as target:
        source.backup(target)
    source.close()
    target.close()


def _copy_postgres(url: str, name: str) -> None:
    template = _templates.get("postgresql")
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        if template is None:
            template = f"smokejumper_template_{uuid.uuid4().hex[:12]}"
            admin.execute(f'CREATE DATABASE "{template}"')
            atexit.register(_drop, template)
            upgrade(make_url(url).set(database=template).render_as_string(hide_password=False))
            _templates["postgresql"] = template
        try:
            admin.execute(f'DROP DATABASE "{name}"')
        except psycopg.errors.ObjectInUse:
            upgrade(url)  # a connection is open to it already: migrate it in place
            return
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def _drop(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
