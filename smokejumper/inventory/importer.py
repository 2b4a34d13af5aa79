"""Upsert an inventory document into the store by natural key.

Natural keys: names for applications, models, datasets and endpoints; (model, version) for
model versions; (provider, key_id) for keys; the whole edge for links. Importing the same
file twice therefore changes nothing, and rows are only deleted when asked (`prune`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from smokejumper.inventory.schema import InventoryDocument, parse_ref
from smokejumper.store.db import Store
from smokejumper.store.tables import (
    Base,
    InventoryApiKey,
    InventoryApplication,
    InventoryDataset,
    InventoryEndpoint,
    InventoryLink,
    InventoryModel,
    InventoryModelVersion,
)

KINDS = ("applications", "models", "model_versions", "datasets", "endpoints", "api_keys", "links")

Row = TypeVar("Row", bound=Base)


@dataclass
class KindCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


@dataclass
class ImportReport:
    counts: dict[str, KindCounts] = field(default_factory=lambda: {k: KindCounts() for k in KINDS})
    pruned: bool = False

    def total(self, what: str) -> int:
        return sum(getattr(c, what) for c in self.counts.values())

    @property
    def changed(self) -> bool:
        return any(self.total(what) for what in ("created", "updated", "deleted"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "pruned": self.pruned,
            "counts": {kind: vars(counts).copy() for kind, counts in self.counts.items()},
            "totals": {w: self.total(w) for w in ("created", "updated", "unchanged", "deleted")},
        }


def upsert(
    session: Session,
    counts: KindCounts,
    existing: Row | None,
    make: Callable[[], Row],
    values: dict[str, Any],
) -> Row:
    if existing is None:
        row = make()
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
        session.flush()
        counts.created += 1
        return row
    changed = {n: v for n, v in values.items() if getattr(existing, n) != v}
    for name, value in changed.items():
        setattr(existing, name, value)
    if changed:
        counts.updated += 1
    else:
        counts.unchanged += 1
    return existing


def _prune(session: Session, counts: KindCounts, rows: Sequence[Base], keep: set[int]) -> None:
    for row in rows:
        if getattr(row, "id") not in keep:  # noqa: B009 - every inventory table has `id`
            session.delete(row)
            counts.deleted += 1
    session.flush()


def import_inventory(
    store: Store, document: InventoryDocument, *, prune: bool = False
) -> ImportReport:
    """Make the store hold `document`; with `prune`, also delete rows the file lacks."""
    report = ImportReport(pruned=prune)
    c = report.counts
    with store.transaction() as session:
        apps = {r.name: r for r in session.scalars(select(InventoryApplication))}
        models = {r.name: r for r in session.scalars(select(InventoryModel))}
        versions = {
            (r.model_id, r.version): r for r in session.scalars(select(InventoryModelVersion))
        }
        datasets = {r.name: r for r in session.scalars(select(InventoryDataset))}
        endpoints = {r.name: r for r in session.scalars(select(InventoryEndpoint))}
        keys = {(r.provider, r.key_id): r for r in session.scalars(select(InventoryApiKey))}
        links = {
            (r.src_type, r.src_id, r.relation, r.dst_type, r.dst_id): r
            for r in session.scalars(select(InventoryLink))
        }

        app_ids: dict[str, int] = {}
        for a in document.applications:
            row = upsert(
                session,
                c["applications"],
                apps.get(a.name),
                InventoryApplication,
                {
                    "name": a.name,
                    "owner": a.owner,
                    "description": a.description,
                    "high_risk": a.high_risk,
                },
            )
            app_ids[a.name] = row.id

        model_ids: dict[str, int] = {}
        version_ids: dict[str, int] = {}
        for m in document.models:
            model = upsert(
                session,
                c["models"],
                models.get(m.name),
                InventoryModel,
                {
                    "name": m.name,
                    "provider": m.provider,
                    "registry_ref": m.registry_ref,
                    "owner": m.owner,
                    "description": m.description,
                },
            )
            model_ids[m.name] = model.id
            for v in m.versions:
                version = upsert(
                    session,
                    c["model_versions"],
                    versions.get((model.id, v.version)),
                    InventoryModelVersion,
                    {
                        "model_id": model.id,
                        "version": v.version,
                        "artifact_uri": v.artifact_uri,
                        "digest": v.digest,
                        "status": v.status,
                        "known_good": v.known_good,
                    },
                )
                version_ids[f"{m.name}@{v.version}"] = version.id

        dataset_ids: dict[str, int] = {}
        for d in document.datasets:
            row_d = upsert(
                session,
                c["datasets"],
                datasets.get(d.name),
                InventoryDataset,
                {"name": d.name, "uri": d.uri, "digest": d.digest, "owner": d.owner},
            )
            dataset_ids[d.name] = row_d.id

        endpoint_ids: dict[str, int] = {}
        for e in document.endpoints:
            row_e = upsert(
                session,
                c["endpoints"],
                endpoints.get(e.name),
                InventoryEndpoint,
                {
                    "name": e.name,
                    "provider": e.provider,
                    "ref": e.ref,
                    "environment": e.environment,
                    "model_version_id": None if e.model is None else version_ids[e.model],
                    "application_id": None if e.application is None else app_ids[e.application],
                    "status": e.status,
                },
            )
            endpoint_ids[e.name] = row_e.id

        key_ids: dict[tuple[str, str], int] = {}
        for k in document.api_keys:
            row_k = upsert(
                session,
                c["api_keys"],
                keys.get((k.provider, k.key_id)),
                InventoryApiKey,
                {
                    "key_id": k.key_id,
                    "provider": k.provider,
                    "prefix": k.prefix,
                    "owner": k.owner,
                    "scopes": list(k.scopes),
                    "status": k.status,
                    "application_id": None if k.application is None else app_ids[k.application],
                },
            )
            key_ids[(k.provider, k.key_id)] = row_k.id

        def resolve(text: str) -> tuple[str, int]:
            # References were checked when the document was loaded, so lookups cannot miss.
            ref = parse_ref(text)
            if ref.type == "key":
                return "key", next(
                    i
                    for (p, kid), i in key_ids.items()
                    if kid == ref.name and ref.provider in (None, p)
                )
            table = {
                "application": app_ids,
                "model": model_ids,
                "model_version": version_ids,
                "endpoint": endpoint_ids,
                "dataset": dataset_ids,
            }[ref.type]
            return ref.type, table[ref.name]

        kept_links: set[int] = set()
        for link in document.links:
            src_type, src_id = resolve(link.src)
            dst_type, dst_id = resolve(link.dst)
            natural = (src_type, src_id, link.relation, dst_type, dst_id)
            existing = links.get(natural)
            if existing is None:
                new = InventoryLink(
                    src_type=src_type,
                    src_id=src_id,
                    relation=link.relation,
                    dst_type=dst_type,
                    dst_id=dst_id,
                )
                session.add(new)
                session.flush()
                links[natural] = new
                kept_links.add(new.id)
                c["links"].created += 1
            elif existing.id not in kept_links:  # an edge written twice counts once
                kept_links.add(existing.id)
                c["links"].unchanged += 1

        if prune:
            # Children before parents, so no foreign key points at a deleted row.
            _prune(session, c["links"], list(session.scalars(select(InventoryLink))), kept_links)
            _prune(session, c["api_keys"], list(keys.values()), set(key_ids.values()))
            _prune(session, c["endpoints"], list(endpoints.values()), set(endpoint_ids.values()))
            _prune(session, c["model_versions"], list(versions.values()), set(version_ids.values()))
            _prune(session, c["models"], list(models.values()), set(model_ids.values()))
            _prune(session, c["datasets"], list(datasets.values()), set(dataset_ids.values()))
            _prune(session, c["applications"], list(apps.values()), set(app_ids.values()))
    return report
