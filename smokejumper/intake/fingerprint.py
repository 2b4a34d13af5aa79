"""Incident fingerprints: alerts with the same fingerprint belong to the same incident."""

from __future__ import annotations

import hashlib
import json

from smokejumper.domain.alerts import Alert

FINGERPRINT_VERSION = "v1"


def fingerprint(alert: Alert) -> str:
    """A stable, deterministic id for the incident an alert belongs to.

    An explicit dedup key wins; otherwise kind + target + principal, so the same attack on
    the same endpoint by the same caller lands on one incident. The version prefix lets
    the derivation change later without colliding with old fingerprints.
    """
    if alert.dedup_key is not None:
        material: dict[str, object] = {"dedup_key": alert.dedup_key}
    else:
        material = {
            "kind": alert.kind.value,
            "target": alert.target.model_dump(exclude_none=True),
            "principal": alert.principal.model_dump(exclude_none=True),
        }
    canonical = json.dumps([FINGERPRINT_VERSION, material], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def workflow_id_for(fingerprint_value: str) -> str:
    return f"incident-{fingerprint_value}"
