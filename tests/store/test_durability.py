"""An alert answered 202 is on disk: the SQLite store syncs every commit unless the
operator chose speed (`sqlite_synchronous = "normal"`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from smokejumper.config import ConfigError, load_settings
from smokejumper.store.open import open_store

# PRAGMA synchronous answers a number.
FULL, NORMAL = 2, 1


def synchronous(url_dir: Path, **settings: object) -> tuple[int, int]:
    store = open_store(load_settings(None, data_dir=url_dir, **settings))
    try:
        with store.engine.connect() as writer, store.read_engine.connect() as reader:
            return (
                writer.execute(text("PRAGMA synchronous")).scalar_one(),
                reader.execute(text("PRAGMA synchronous")).scalar_one(),
            )
    finally:
        store.dispose()


def test_every_commit_is_synced_by_default(tmp_path: Path) -> None:
    assert synchronous(tmp_path) == (FULL, FULL)


def test_an_operator_may_choose_speed(tmp_path: Path) -> None:
    assert synchronous(tmp_path, sqlite_synchronous="normal") == (NORMAL, NORMAL)


def test_anything_else_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sqlite_synchronous"):
        load_settings(None, data_dir=tmp_path, sqlite_synchronous="off")
