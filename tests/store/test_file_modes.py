"""The SQLite store's files are owner-only: they hold raw alerts, leaked secrets included."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cli.main import app
from smokejumper.store.db import Store


@pytest.fixture
def usual_umask() -> Iterator[None]:
    # The umask most systems ship with, under which SQLite would create 0644 files.
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes(folder: Path) -> dict[str, str]:
    return {path.name: oct(path.stat().st_mode & 0o777) for path in folder.iterdir()}


def write_something(store: Store) -> None:
    with store.transaction() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))


@pytest.mark.usefixtures("usual_umask")
def test_a_new_store_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'new' / 'smokejumper.db'}")
    try:
        write_something(store)
        found = modes(tmp_path / "new")
        assert {"smokejumper.db", "smokejumper.db-wal", "smokejumper.db-shm"} <= set(found)
        assert found == dict.fromkeys(found, oct(0o600))
        assert oct((tmp_path / "new").stat().st_mode & 0o777) == oct(0o700)
    finally:
        store.dispose()


@pytest.mark.usefixtures("usual_umask")
def test_an_existing_world_readable_store_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "smokejumper.db"
    old = Store(f"sqlite:///{path}")
    write_something(old)
    for leftover in tmp_path.iterdir():
        leftover.chmod(0o644)
    store = Store(f"sqlite:///{path}")
    try:
        write_something(store)
        found = modes(tmp_path)
        assert "smokejumper.db-wal" in found
        assert found == dict.fromkeys(found, oct(0o600))
    finally:
        old.dispose()
        store.dispose()


@pytest.mark.usefixtures("usual_umask")
def test_db_upgrade_makes_the_data_dir_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    result = CliRunner().invoke(app, ["db", "upgrade"], env={"SMOKEJUMPER_DATA_DIR": str(data)})
    assert result.exit_code == 0, result.output
    assert oct(data.stat().st_mode & 0o777) == oct(0o700)
    assert modes(data)["smokejumper.db"] == oct(0o600)
