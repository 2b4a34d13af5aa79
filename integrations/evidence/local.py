"""Evidence as files under one directory, named by their sha256."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from integrations.evidence.base import SHA256_HEX, EvidenceStoreError, check_key

SCHEME = "file://"


class LocalEvidenceStore:
    name = "local"

    def __init__(self, directory: Path) -> None:
        self.directory = directory.expanduser().resolve()

    def path_for(self, key: str) -> Path:
        # Two-character fan-out keeps any one folder small after many captures.
        return self.directory / key[:2] / key

    def put(self, key: str, data: bytes) -> str:
        check_key(key, data)
        path = self.path_for(key)
        if not (path.is_file() and path.stat().st_size == len(data)):
            self._write_atomically(path, data)
        return f"{SCHEME}{path}"

    def get(self, uri: str) -> bytes:
        path = self._path(uri)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise EvidenceStoreError(f"no evidence at {uri}", retryable=False) from None

    def delete(self, uri: str) -> None:
        self._path(uri).unlink(missing_ok=True)

    def _path(self, uri: str) -> Path:
        if not uri.startswith(SCHEME):
            raise EvidenceStoreError(f"not a local evidence URI: {uri}", retryable=False)
        path = Path(uri[len(SCHEME) :])
        key = path.name
        # Only files this store wrote: a URI is data from the database, not a path to trust.
        if not SHA256_HEX.match(key) or path != self.path_for(key):
            raise EvidenceStoreError(
                f"{uri} is not in the evidence directory {self.directory}", retryable=False
            )
        return path

    def _write_atomically(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A reader (or a crash) sees the whole file or none: write aside, then rename over.
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
