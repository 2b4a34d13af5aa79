"""Model integrity: re-hash every inventoried model artifact and raise a `model_compromise`
alert when it no longer matches the digest registered for its version.

Each distinct wrong digest of a version is raised once: the cursor remembers, per version,
the registered digest and the wrong digests already alerted, so an artifact left tampered
does not alert every run, while a further change to it does. An artifact that matches again
clears its entry, so tampering with it later alerts again.

A missing artifact is logged as an error on every run, not alerted: the model-integrity
format only carries a digest, and inventing one for "missing" would put a false value in the
incident's evidence.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from integrations.digest import ArtifactCheck, artifact_digest, normalize_digest
from integrations.pollers.base import Checkpoint, Cursor, Item, Record
from integrations.sources.base import Normalizer
from smokejumper.store.db import Store
from smokejumper.store.tables import InventoryModel, InventoryModelVersion

log = logging.getLogger(__name__)

# Per version: enough to recognise an artifact flipping between a few tampered states.
MAX_REMEMBERED_DIGESTS = 20


@dataclass(frozen=True)
class _Version:
    id: int
    model: str
    version: str
    provider: str
    artifact_uri: str
    digest: str


def _inventory(store: Store) -> list[_Version]:
    with store.session() as session:
        rows = session.execute(
            select(InventoryModelVersion, InventoryModel)
            .join(InventoryModel, InventoryModelVersion.model_id == InventoryModel.id)
            .where(
                InventoryModelVersion.artifact_uri.is_not(None),
                InventoryModelVersion.digest.is_not(None),
            )
            .order_by(InventoryModelVersion.id)
        ).all()
        return [
            _Version(
                id=version.id,
                model=model.name,
                version=version.version,
                provider=model.provider,
                artifact_uri=version.artifact_uri or "",
                digest=version.digest or "",
            )
            for version, model in rows
        ]


def _registry(version: _Version) -> str:
    if version.provider == "mlflow":
        return "mlflow"
    return "s3" if version.artifact_uri.startswith("s3://") else "local"


class ModelIntegrityPoller:
    def __init__(
        self,
        *,
        name: str,
        source: str,
        normalizer: Normalizer,
        store: Store,
        interval_seconds: float,
        s3_endpoint_url: str | None = None,
        registry: Callable[[str], ArtifactCheck] | None = None,
    ) -> None:
        self.name = name
        self.source = source
        self.normalizer = normalizer
        self.store = store
        self.interval_seconds = interval_seconds
        self.s3_endpoint_url = s3_endpoint_url
        # Resolves `models:/` URIs through the model registry; None when none is configured.
        self.registry = registry

    async def poll(self, cursor: Cursor) -> AsyncGenerator[Record, None]:
        versions = await asyncio.to_thread(_inventory, self.store)
        present = {str(version.id) for version in versions}
        # Versions removed from the inventory are forgotten.
        alerted: dict[str, dict[str, Any]] = {
            key: entry for key, entry in cursor.get("alerted", {}).items() if key in present
        }
        for version in versions:
            payload = await self._check(version, alerted)
            if payload is not None:
                yield Item(
                    raw=json.dumps(payload),
                    payload=payload,
                    parsed=True,
                    cursor={"alerted": json.loads(json.dumps(alerted))},
                    context={"model": version.model, "version": version.version},
                )
        yield Checkpoint({"alerted": alerted})

    def _digest(self, uri: str) -> ArtifactCheck:
        if uri.startswith("models:/"):
            if self.registry is None:
                return ArtifactCheck(
                    "unchecked",
                    reason="models:/ URIs need a registry: set containment.mlflow.tracking_uri",
                )
            return self.registry(uri)
        return artifact_digest(uri, s3_endpoint_url=self.s3_endpoint_url)

    async def _check(
        self, version: _Version, alerted: dict[str, dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The alert payload if this version's artifact changed to a digest not yet alerted;
        updates `alerted` to what will be remembered once it is handled."""
        label = f"{version.model} version {version.version}"
        expected = normalize_digest(version.digest)
        if expected is None:
            log.warning("model-integrity: %s: registered digest is not SHA-256; skipped", label)
            return None
        check = await asyncio.to_thread(self._digest, version.artifact_uri)
        if check.status == "missing":
            log.error(
                "model-integrity: %s: artifact %s is missing (%s)",
                label,
                version.artifact_uri,
                check.reason,
            )
            return None
        if check.status == "unchecked" or check.digest is None:
            log.warning("model-integrity: %s: %s", label, check.reason)
            return None
        key = str(version.id)
        entry = alerted.get(key)
        if entry is not None and entry.get("expected") != expected:
            entry = None  # re-registered: earlier alerts were about another digest
        if check.digest == expected:
            alerted.pop(key, None)
            return None
        seen: list[str] = list(entry["actual"]) if entry is not None else []
        if check.digest in seen:
            log.warning("model-integrity: %s: still differs from its digest (alerted)", label)
            return None
        alerted[key] = {
            "expected": expected,
            "actual": [*seen, check.digest][-MAX_REMEMBERED_DIGESTS:],
        }
        return {
            "model": version.model,
            "version": version.version,
            "artifact_uri": version.artifact_uri,
            "expected_digest": expected,
            "actual_digest": check.digest,
            "checked_at": datetime.now(UTC).isoformat(),
            "registry": _registry(version),
        }
