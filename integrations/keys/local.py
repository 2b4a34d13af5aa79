"""Keys of the embedded control plane, in one JSON file under the data dir.

The file maps key id to its record ({"status": "active" | "inactive", ...}); it holds no
secrets, only ids and states. Writes go to a temporary file that is fsynced and renamed
over the old one, so a crash leaves either the old or the new state, never half of one;
an advisory lock file serialises writers across the API, worker and CLI processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.keys.base import KeyNotFound, KeyProviderError, KeyState

PROVIDER = "local"
_STATUSES = ("active", "inactive")


class LocalKeys:
    name = PROVIDER
    restorable = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with self._lock, lock_path.open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise KeyProviderError(f"local keys: cannot read {self.path}: {exc}") from None
        keys = data.get("keys", {}) if isinstance(data, dict) else {}
        return {str(k): dict(v) for k, v in keys.items()}

    def _write(self, keys: dict[str, dict[str, Any]]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"keys": keys}, out, indent=2, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _state(self, key_id: str, record: dict[str, Any]) -> KeyState:
        return KeyState(
            key_id=key_id,
            provider=PROVIDER,
            status=str(record.get("status", "active")),
            details={k: v for k, v in record.items() if k != "status"},
        )

    def create(self, key_id: str, *, owner: str | None = None) -> KeyState:
        """Register an active key (what the control plane does when it issues one)."""
        with self._locked():
            keys = self._read()
            record = keys.setdefault(key_id, {"status": "active"})
            if owner is not None:
                record["owner"] = owner
            self._write(keys)
            return self._state(key_id, record)

    def state(self, key_id: str) -> KeyState:
        with self._locked():
            keys = self._read()
        if key_id not in keys:
            raise KeyNotFound(f"local: no key {key_id}")
        return self._state(key_id, keys[key_id])

    def _set(self, key_id: str, status: str) -> KeyState:
        with self._locked():
            keys = self._read()
            if key_id not in keys:
                raise KeyNotFound(f"local: no key {key_id}")
            record = keys[key_id]
            record["status"] = status
            record["changed_at"] = datetime.now(UTC).isoformat()
            self._write(keys)
            return self._state(key_id, record)

    def revoke(self, key_id: str) -> KeyState:
        return self._set(key_id, "inactive")

    def verify_revoked(self, key_id: str) -> bool:
        return self.state(key_id).status == "inactive"

    def restore(self, key_id: str, before: KeyState) -> KeyState:
        if before.status not in _STATUSES:
            raise KeyProviderError(
                f"local: cannot restore {key_id} to status {before.status!r}", retryable=False
            )
        return self._set(key_id, before.status)
