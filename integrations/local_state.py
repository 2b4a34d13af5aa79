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


# A file's parsed content, by path, for as long as the file is the same version: every
# write replaces the file (a new inode, a new mtime), so (inode, mtime, size) names one
# version. A provider call reads the whole file, and a file of ten thousand keys takes
# milliseconds to parse: read again only when another writer has replaced it.
_Version = tuple[int, int, int]
_parsed: dict[Path, tuple[_Version, Any]] = {}
_parsed_lock = threading.Lock()


def _version(stat: os.stat_result) -> _Version:
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _load(path: Path) -> Any:
    try:
        version = _version(path.stat())
        with _parsed_lock:
            cached = _parsed.get(path)
        if cached is not None and cached[0] == version:
            return cached[1]
        with path.open("rb") as stream:
            # The version read is the one the open file descriptor holds.
            version = _version(os.fstat(stream.fileno()))
            data = json.loads(stream.read())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LocalStateError(f"cannot read {path}: {exc}") from None
    _remember(path, version, data)
    return data


def _remember(path: Path, version: _Version, data: Any) -> None:
    with _parsed_lock:
        _parsed[path] = (version, data)


def read_records(path: Path, section: str) -> Records:
    """The records under `section`, without taking the lock (renames make that safe); the
    caller's own copy."""
    data = _load(path)
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
                # One line: json's C encoder serves only unindented output, and a file of
                # ten thousand records is written on every change (`jq .` shows it indented).
                out.write(json.dumps({self.section: records}, sort_keys=True))
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
                # The version the path names once renamed (a rename keeps inode and mtime).
                version = _version(os.fstat(out.fileno()))
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        # This process's next read need not parse what it has just written; a copy, as the
        # caller may go on changing its records.
        _remember(self.path, version, {self.section: {k: dict(v) for k, v in records.items()}})


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
