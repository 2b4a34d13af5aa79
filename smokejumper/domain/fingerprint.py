"""Incident fingerprints: alerts with the same fingerprint belong to the same incident."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum

from smokejumper.domain.alerts import Alert

FINGERPRINT_VERSION = "v1"


FINGERPRINT_FIELDS = frozenset(
    {"kind", "source", "title"}
    | {f"target.{name}" for name in ("application", "endpoint", "model", "model_version")}
    | {f"principal.{name}" for name in ("user", "api_key_id", "tenant", "session_id", "ip")}
)


def validate_fingerprint_fields(fields: list[str]) -> None:
    if not fields:
        raise ValueError("fingerprint needs at least one field")
    for name in fields:
        if name not in FINGERPRINT_FIELDS and not name.startswith("labels."):
            allowed = ", ".join(sorted(FINGERPRINT_FIELDS))
            raise ValueError(f"fingerprint field {name!r} is not one of {allowed} or labels.<name>")


def _field_value(alert: Alert, name: str) -> object:
    if name.startswith("labels."):
        return alert.labels.get(name.removeprefix("labels."))
    value: object = alert
    for part in name.split("."):
        value = getattr(value, part)
    return value.value if isinstance(value, StrEnum) else value


def fingerprint(alert: Alert, fields: list[str] | None = None) -> str:
    """A stable, deterministic id for the incident an alert belongs to.

    An explicit dedup key wins; otherwise kind + target + principal, so the same attack on
    the same endpoint by the same caller lands on one incident. The version prefix lets
    the derivation change later without colliding with old fingerprints.
    """
    if alert.dedup_key is not None:
        material: dict[str, object] = {"dedup_key": alert.dedup_key}
    elif fields is not None:
        # Per-source override: only the named fields (a source that knows better).
        material = {"fields": {name: _field_value(alert, name) for name in sorted(fields)}}
    else:
        material = {
            "kind": alert.kind.value,
            "target": alert.target.model_dump(exclude_none=True),
            "principal": alert.principal.model_dump(exclude_none=True),
        }
    canonical = json.dumps([FINGERPRINT_VERSION, material], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def workflow_id_for(
    fingerprint_value: str, incident_id: int | None = None, prefix: str = "incident"
) -> str:
    """The id of the workflow that runs an incident's playbook.

    It names the incident, not only its fingerprint: a fingerprint can have a closed
    incident whose run is still ending and a new open one, and each must be reached alone.
    Without an incident number this is the fingerprint-only id incidents opened before
    carry (their rows keep it, and are addressed by it).
    """
    if incident_id is None:
        return f"{prefix}-{fingerprint_value}"
    return f"{prefix}-{fingerprint_value}-{incident_id}"
