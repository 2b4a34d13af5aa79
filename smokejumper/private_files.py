"""Owner-only modes for the store files: the databases hold raw alerts, leaked secrets
included, and the data dir holds the operator token and keys."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# SQLite's companions hold pages of the database; a -wal can hold every recent write.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) owner-only, and tighten it if it exists."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(path, PRIVATE_DIR)
    return path


def private_database(path: Path, *, create: bool = True) -> Path:
    """Create a SQLite file owner-only before SQLite does (SQLite gives its -wal and -shm
    the database file's mode), and tighten the file and its companions if they exist.
    `create=False` for a program that takes an existing file as already set up."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    if create:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_COMPANIONS)):
        if candidate.exists():
            os.chmod(candidate, PRIVATE_FILE)
    return path


def create_once(path: Path, value: str) -> str:
    """Write `value` to `path` (owner-only) unless the file exists; the file's value either
    way. When several processes start at once exactly one value wins, and no process ever
    reads the file half-written: the value goes to a file of its own, which is then linked
    into place whole (a link fails when the name is taken, as O_EXCL would)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(value + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(staged, PRIVATE_FILE)
        try:
            os.link(staged, path)
        except FileExistsError:
            return path.read_text(encoding="utf-8").strip()
        return value
    finally:
        os.unlink(staged)
