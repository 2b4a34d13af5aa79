"""Endpoints of the embedded control plane, in `endpoints.json` beside the keys file.

Each record is {"status": "serving" | "isolated", "by", "reason", "changed_at"}: who
isolated the endpoint, why and when, for whoever reads the file or the controls check.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.endpoints.base import (
    ISOLATED,
    SERVING,
    EndpointNotFound,
    EndpointProviderError,
    EndpointState,
)
from integrations.local_state import LocalProvider

PROVIDER = "local"
SECTION = "endpoints"
_STATUSES = (SERVING, ISOLATED)


class LocalEndpoints(LocalProvider):
    section = SECTION
    what = "local endpoints"
    error = EndpointProviderError
    restorable = True

    def __init__(self, path: Path) -> None:
        super().__init__(path)

    def _state(self, endpoint: str, record: dict[str, Any]) -> EndpointState:
        return EndpointState(
            endpoint=endpoint,
            provider=PROVIDER,
            status=str(record.get("status", SERVING)),
            details={k: v for k, v in record.items() if k != "status"},
        )

    def create(self, endpoint: str, *, owner: str | None = None) -> EndpointState:
        """Register a serving endpoint (what the control plane does when one is deployed)."""
        with self._file.locked():
            endpoints = self._read()
            record = endpoints.setdefault(endpoint, {"status": SERVING})
            if owner is not None:
                record["owner"] = owner
            self._file.write(endpoints)
            return self._state(endpoint, record)

    def state(self, endpoint: str) -> EndpointState:
        with self._file.locked():
            endpoints = self._read()
        if endpoint not in endpoints:
            raise EndpointNotFound(f"local: no endpoint {endpoint}")
        return self._state(endpoint, endpoints[endpoint])

    def _set(self, endpoint: str, status: str, by: str | None, reason: str | None) -> EndpointState:
        with self._file.locked():
            endpoints = self._read()
            if endpoint not in endpoints:
                raise EndpointNotFound(f"local: no endpoint {endpoint}")
            record = endpoints[endpoint]
            record["status"] = status
            record["by"] = by
            record["reason"] = reason
            record["changed_at"] = datetime.now(UTC).isoformat()
            self._file.write(endpoints)
            return self._state(endpoint, record)

    def isolate(self, endpoint: str, *, by: str, reason: str | None = None) -> EndpointState:
        return self._set(endpoint, ISOLATED, by, reason)

    def verify_isolated(self, endpoint: str) -> bool:
        return self.state(endpoint).status == ISOLATED

    def restore(self, endpoint: str, before: EndpointState) -> EndpointState:
        if before.status not in _STATUSES:
            raise EndpointProviderError(
                f"local: cannot restore {endpoint} to status {before.status!r}", retryable=False
            )
        details = before.details
        return self._set(endpoint, before.status, details.get("by"), details.get("reason"))
