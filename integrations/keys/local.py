"""Keys of the embedded control plane, in one JSON file under the data dir.

The file maps key id to its record ({"status": "active" | "inactive", ...}); it holds no
secrets, only ids and states. Crash-safe writes and the cross-process lock come from
`integrations.local_state`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.keys.base import KeyNotFound, KeyProviderError, KeyState
from integrations.local_state import LocalProvider
from smokejumper.domain.containment import KeyStatus

PROVIDER = "local"
_STATUSES = tuple(KeyStatus)


class LocalKeys(LocalProvider):
    section = "keys"
    what = "local keys"
    error = KeyProviderError
    restorable = True

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._locked = self._file.locked

    def _write(self, keys: dict[str, dict[str, Any]]) -> None:
        self._file.write(keys)

    def _state(self, key_id: str, record: dict[str, Any]) -> KeyState:
        return KeyState(
            key_id=key_id,
            provider=PROVIDER,
            status=str(record.get("status", KeyStatus.ACTIVE)),
            details={k: v for k, v in record.items() if k != "status"},
        )

    def create(self, key_id: str, *, owner: str | None = None) -> KeyState:
        """Register an active key (what the control plane does when it issues one)."""
        with self._locked():
            keys = self._read()
            record = keys.setdefault(key_id, {"status": KeyStatus.ACTIVE.value})
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
        return self._set(key_id, KeyStatus.INACTIVE)

    def verify_revoked(self, key_id: str) -> bool:
        return self.state(key_id).status == KeyStatus.INACTIVE

    def restore(self, key_id: str, before: KeyState) -> KeyState:
        if before.status not in _STATUSES:
            raise KeyProviderError(
                f"local: cannot restore {key_id} to status {before.status!r}", retryable=False
            )
        return self._set(key_id, before.status)
