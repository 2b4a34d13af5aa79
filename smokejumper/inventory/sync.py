"""Sync the inventory from a system that can list what it holds (a model registry, a cloud's
access keys), with the importer's natural-key upserts.

A sync writes only what the source knows: a model's owner, an endpoint's model or a key's
application set by an imported file are kept. It never deletes. A recorded artifact digest
is never overwritten either: it is the reference integrity checks and rollbacks compare
against, so a version whose artifacts now hash differently is reported as drift for a
person to look at (and fix with `inventory import`), not silently re-baselined.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import select

from smokejumper.inventory.importer import KindCounts, upsert
from smokejumper.inventory.schema import ApiKeySpec, ModelSpec, ModelVersionSpec
from smokejumper.store.db import Store
from smokejumper.store.tables import InventoryApiKey, InventoryModel, InventoryModelVersion


class SourceError(Exception):
    """The source could not be listed or read; the message names what failed, without
    credentials."""


@dataclass(frozen=True)
class ListedVersion:
    version: str
    artifact_uri: str | None
    status: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListedModel:
    name: str
    provider: str
    registry_ref: str | None
    description: str | None
    versions: tuple[ListedVersion, ...]


@dataclass(frozen=True)
class ListedKey:
    key_id: str
    provider: str
    owner: str | None
    status: str


class InventorySource(Protocol):
    """What `smokejumper inventory sync NAME` reads. Blocking calls; failures raise
    SourceError."""

    name: str

    def models(self) -> Iterable[ListedModel]: ...

    def keys(self) -> Iterable[ListedKey]: ...

    def digest(self, model: str, version: str) -> str | None:
        """The digest of a version's artifacts, computed now; None if unreadable."""
        ...


@dataclass
class Drift:
    model: str
    version: str
    recorded: str
    actual: str

    def __str__(self) -> str:
        return (
            f"{self.model}@{self.version}: artifacts hash to {self.actual}, "
            f"the inventory records {self.recorded}"
        )


@dataclass
class SyncReport:
    source: str
    counts: dict[str, KindCounts] = field(
        default_factory=lambda: {k: KindCounts() for k in ("models", "model_versions", "api_keys")}
    )
    hashed: int = 0
    unreadable: list[str] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        counts = {kind: vars(c).copy() for kind, c in self.counts.items()}
        for c in counts.values():
            c.pop("deleted")
        return {
            "source": self.source,
            "counts": counts,
            "hashed": self.hashed,
            "unreadable": list(self.unreadable),
            "drift": [vars(d).copy() for d in self.drift],
            "skipped": list(self.skipped),
        }


def _problem(label: str, exc: ValidationError) -> str:
    fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return f"{label}: {fields}"


def _valid(models: list[ListedModel], keys: list[ListedKey], report: SyncReport) -> None:
    """Drop, and report, entries the file format would refuse (a name the inventory cannot
    reference, a key id that looks like a secret): one odd entry must not stop the sync."""
    for model in list(models):
        try:
            ModelSpec(
                name=model.name,
                provider=model.provider,
                registry_ref=model.registry_ref,
                versions=[ModelVersionSpec(version=v.version) for v in model.versions],
            )
        except ValidationError as exc:
            models.remove(model)
            report.skipped.append(_problem(f"model {model.name!r}", exc))
    for key in list(keys):
        try:
            ApiKeySpec(key_id=key.key_id, provider=key.provider, owner=key.owner)
        except ValidationError as exc:
            keys.remove(key)
            report.skipped.append(_problem(f"key of {key.provider}", exc))


def sync_inventory(store: Store, source: InventorySource, *, rehash: bool = False) -> SyncReport:
    """Upsert what `source` lists. Versions new to the inventory (or without a digest) are
    hashed; with `rehash`, recorded ones are hashed again and differences reported."""
    report = SyncReport(source=source.name)
    models = list(source.models())
    keys = list(source.keys())
    _valid(models, keys, report)
    recorded = _recorded_digests(store)
    digests: dict[tuple[str, str], str | None] = {}
    # Hashing reads whole artifacts: done before the write transaction, not inside it.
    for model in models:
        for version in model.versions:
            known = recorded.get((model.name, version.version))
            if known is not None and not rehash:
                continue
            actual = source.digest(model.name, version.version)
            report.hashed += 1
            if actual is None:
                report.unreadable.append(f"{model.name}@{version.version}")
            elif known is not None and actual != known:
                report.drift.append(Drift(model.name, version.version, known, actual))
            digests[(model.name, version.version)] = actual
    with store.transaction() as session:
        existing_models = {r.name: r for r in session.scalars(select(InventoryModel))}
        versions = {
            (r.model_id, r.version): r for r in session.scalars(select(InventoryModelVersion))
        }
        c = report.counts
        for model in models:
            row = upsert(
                session,
                c["models"],
                existing_models.get(model.name),
                InventoryModel,
                {
                    "name": model.name,
                    "provider": model.provider,
                    "registry_ref": model.registry_ref,
                    "description": model.description,
                },
            )
            for version in model.versions:
                current = versions.get((row.id, version.version))
                values: dict[str, Any] = {
                    "model_id": row.id,
                    "version": version.version,
                    "artifact_uri": version.artifact_uri,
                    "status": version.status,
                    "aliases": sorted(version.aliases),
                }
                digest = digests.get((model.name, version.version))
                if digest is not None and (current is None or current.digest is None):
                    values["digest"] = digest
                upsert(session, c["model_versions"], current, InventoryModelVersion, values)
        existing_keys = {
            (r.provider, r.key_id): r for r in session.scalars(select(InventoryApiKey))
        }
        for key in keys:
            upsert(
                session,
                c["api_keys"],
                existing_keys.get((key.provider, key.key_id)),
                InventoryApiKey,
                {
                    "key_id": key.key_id,
                    "provider": key.provider,
                    "owner": key.owner,
                    "status": key.status,
                },
            )
    return report


def _recorded_digests(store: Store) -> dict[tuple[str, str], str]:
    with store.session() as session:
        rows = session.execute(
            select(InventoryModel.name, InventoryModelVersion.version, InventoryModelVersion.digest)
            .join(InventoryModel, InventoryModelVersion.model_id == InventoryModel.id)
            .where(InventoryModelVersion.digest.is_not(None))
        ).all()
    return {(name, version): str(digest) for name, version, digest in rows}
