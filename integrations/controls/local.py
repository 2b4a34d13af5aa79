"""Blocked principals, input-filter rules and quarantined documents, each in a JSON file
beside the keys file (`principals.json`, `filter_rules.json`, `documents.json`).

Records carry who changed them, why and when, and an optional `expires_at` (ISO 8601,
UTC): a lapsed block or rule is inactive without anyone removing it, so a gateway checking
`GET /api/v1/controls/check` stops refusing at the moment the block ends, even if no
process of the engine is running then.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from integrations.local_state import LocalStateError, LocalStateFile

PROVIDER = "local"

BLOCKED = "blocked"
ALLOWED = "allowed"
ACTIVE = "active"
REMOVED = "removed"
QUARANTINED = "quarantined"
RELEASED = "released"


class ControlState(BaseModel):
    """One control's record as the file holds it; `status` is None when there is none."""

    target: str
    provider: str = PROVIDER
    status: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ControlPlaneError(Exception):
    """The state file cannot be read or written; retrying may help."""

    retryable = True


def _now() -> str:
    return datetime.now(UTC).isoformat()


def expiry_text(expires_at: datetime | None) -> str | None:
    return expires_at.astimezone(UTC).isoformat() if expires_at is not None else None


def expired(record: dict[str, Any], now: datetime | None = None) -> bool:
    """Whether the record's `expires_at` has passed (a record without one never expires)."""
    value = record.get("expires_at")
    if not value:
        return False
    try:
        until = datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return until <= (now or datetime.now(UTC))


class _Records:
    """Records by id in one section of one file, each change a whole-file rename."""

    off: str

    def __init__(self, path: Path, section: str) -> None:
        self.path = path
        self._file = LocalStateFile(path, section)

    def get(self, target: str) -> ControlState:
        try:
            with self._file.locked():
                record = self._file.read().get(target)
        except LocalStateError as exc:
            raise ControlPlaneError(str(exc)) from None
        return self._state(target, record)

    def put(self, target: str, record: dict[str, Any]) -> ControlState:
        """Replace the record and return what was written."""
        try:
            with self._file.locked():
                records = self._file.read()
                records[target] = record
                self._file.write(records)
        except LocalStateError as exc:
            raise ControlPlaneError(str(exc)) from None
        return self._state(target, record)

    def restore(self, target: str, before: ControlState) -> ControlState:
        """Put back the record `before` holds; a target that had none is marked `off`
        (kept, not deleted, so the file still says who contained it and when)."""
        if before.status is not None:
            return self.put(target, {"status": before.status, **before.details})
        current = self.get(target)
        if current.status is None:
            return current
        return self.put(target, {**current.details, "status": self.off, "changed_at": _now()})

    def all(self) -> dict[str, dict[str, Any]]:
        try:
            return self._file.read()
        except LocalStateError as exc:
            raise ControlPlaneError(str(exc)) from None

    @staticmethod
    def _state(target: str, record: dict[str, Any] | None) -> ControlState:
        if record is None:
            return ControlState(target=target)
        details = {k: v for k, v in record.items() if k != "status"}
        return ControlState(target=target, status=record.get("status"), details=details)


class LocalPrincipals(_Records):
    """`<type>:<id>` → {"status": "blocked" | "allowed", "by", "reason", "changed_at",
    "expires_at"}."""

    off = ALLOWED

    def __init__(self, path: Path) -> None:
        super().__init__(path, "principals")

    def block(
        self, target: str, *, by: str, reason: str | None, expires_at: datetime | None
    ) -> ControlState:
        record = {
            "status": BLOCKED,
            "by": by,
            "reason": reason,
            "changed_at": _now(),
            "expires_at": expiry_text(expires_at),
        }
        return self.put(target, record)

    def is_blocked(self, target: str) -> bool:
        state = self.get(target)
        return state.status == BLOCKED and not expired(state.details)


class LocalFilterRules(_Records):
    """rule id → {"status": "active" | "removed", "kind": "pattern" | "canary", "pattern",
    "by", "reason", "changed_at", "expires_at"}."""

    off = REMOVED

    def __init__(self, path: Path) -> None:
        super().__init__(path, "rules")

    def add(
        self,
        rule_id: str,
        *,
        kind: str,
        pattern: str,
        by: str,
        reason: str | None,
        expires_at: datetime,
    ) -> ControlState:
        record = {
            "status": ACTIVE,
            "kind": kind,
            "pattern": pattern,
            "by": by,
            "reason": reason,
            "changed_at": _now(),
            "expires_at": expiry_text(expires_at),
        }
        return self.put(rule_id, record)

    def is_active(self, rule_id: str) -> bool:
        state = self.get(rule_id)
        return state.status == ACTIVE and not expired(state.details)


class LocalDocuments(_Records):
    """document id → {"status": "quarantined" | "released", "source", "by", "reason",
    "changed_at"}."""

    off = RELEASED

    def __init__(self, path: Path) -> None:
        super().__init__(path, "documents")

    def quarantine(
        self, document: str, *, source: str | None, by: str, reason: str | None
    ) -> ControlState:
        record = {
            "status": QUARANTINED,
            "source": source,
            "by": by,
            "reason": reason,
            "changed_at": _now(),
        }
        return self.put(document, record)

    def is_quarantined(self, document: str) -> bool:
        return self.get(document).status == QUARANTINED
