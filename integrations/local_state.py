"""State files of the embedded control plane: one JSON object per file, under the data dir.

Writes go to a temporary file that is fsynced and renamed over the old one, so a crash
leaves either the old or the new state, never half of one, and a reader that takes no lock
still sees one whole version; an advisory lock file serialises writers across the API,
worker and CLI processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

Records = dict[str, dict[str, Any]]


class LocalStateError(Exception):
    """The file exists but cannot be read or parsed."""


def read_records(path: Path, section: str) -> Records:
    """The records under `section`, without taking the lock (renames make that safe)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LocalStateError(f"cannot read {path}: {exc}") from None
    records = data.get(section, {}) if isinstance(data, dict) else {}
    if not isinstance(records, dict):
        raise LocalStateError(f"cannot read {path}: {section!r} is not an object")
    return {str(k): dict(v) for k, v in records.items() if isinstance(v, dict)}


class LocalStateFile:
    """Records by id under one top-level `section` of a JSON file."""

    def __init__(self, path: Path, section: str) -> None:
        self.path = path
        self.section = section
        # flock is per open file description; this keeps threads of one process in line too.
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with self._lock, lock_path.open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def read(self) -> Records:
        return read_records(self.path, self.section)

    def write(self, records: Records) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({self.section: records}, out, indent=2, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


class LocalProvider:
    """A provider of the embedded control plane whose state is one section of a state file:
    subclasses name the section, what they are (for messages) and their capability's error."""

    name = "local"
    section: ClassVar[str]
    what: ClassVar[str]  # "local keys", … : how errors name this provider
    error: ClassVar[type[Exception]]

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = LocalStateFile(path, self.section)

    def _read(self) -> Records:
        try:
            return self._file.read()
        except LocalStateError as exc:
            raise self.error(f"{self.what}: {exc}") from None
