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

from smokejumper.canary import canary_digest
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
    InventoryPrompt,
    InventorySupplier,
)

KINDS = (
    "applications",
    "models",
    "model_versions",
    "datasets",
    "endpoints",
    "api_keys",
    "prompts",
    "suppliers",
    "links",
)

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
    with store.transaction() as session:
        run = _Import(session, report.counts)
        run.suppliers(document)
        run.applications(document)
        run.models(document)
        run.datasets(document)
        run.endpoints(document)
        run.api_keys(document)
        run.prompts(document)
        run.links(document)
        if prune:
            run.prune()
    return report


class _Import:
    """One import: the rows the store holds, by natural key, and the ids the document's
    entries now have (what links resolve against and pruning keeps)."""

    def __init__(self, session: Session, counts: dict[str, KindCounts]) -> None:
        self.session = session
        self.c = counts
        self.apps = {r.name: r for r in session.scalars(select(InventoryApplication))}
        self.models_ = {r.name: r for r in session.scalars(select(InventoryModel))}
        self.versions = {
            (r.model_id, r.version): r for r in session.scalars(select(InventoryModelVersion))
        }
        self.datasets_ = {r.name: r for r in session.scalars(select(InventoryDataset))}
        self.endpoints_ = {r.name: r for r in session.scalars(select(InventoryEndpoint))}
        self.keys = {(r.provider, r.key_id): r for r in session.scalars(select(InventoryApiKey))}
        self.prompts_ = {r.name: r for r in session.scalars(select(InventoryPrompt))}
        self.suppliers_ = {r.name: r for r in session.scalars(select(InventorySupplier))}
        self.supplier_ids: dict[str, int] = {}
        self.prompt_ids: dict[str, int] = {}
        self.existing_links = {
            (r.src_type, r.src_id, r.relation, r.dst_type, r.dst_id): r
            for r in session.scalars(select(InventoryLink))
        }
        self.app_ids: dict[str, int] = {}
        self.model_ids: dict[str, int] = {}
        self.version_ids: dict[str, int] = {}
        self.dataset_ids: dict[str, int] = {}
        self.endpoint_ids: dict[str, int] = {}
        self.key_ids: dict[tuple[str, str], int] = {}
        self.kept_links: set[int] = set()

    def suppliers(self, document: InventoryDocument) -> None:
        for supplier in document.suppliers:
            values = {
                "name": supplier.name,
                "kind": supplier.kind,
                "security_contact": supplier.security_contact,
                "description": supplier.description,
            }
            row = upsert(
                self.session,
                self.c["suppliers"],
                self.suppliers_.get(supplier.name),
                InventorySupplier,
                values,
            )
            self.supplier_ids[supplier.name] = row.id

    def applications(self, document: InventoryDocument) -> None:
        for a in document.applications:
            values = {
                "name": a.name,
                "owner": a.owner,
                "description": a.description,
                "high_risk": a.high_risk,
            }
            row = upsert(
                self.session,
                self.c["applications"],
                self.apps.get(a.name),
                InventoryApplication,
                values,
            )
            self.app_ids[a.name] = row.id

    def models(self, document: InventoryDocument) -> None:
        for m in document.models:
            values = {
                "name": m.name,
                "provider": m.provider,
                "registry_ref": m.registry_ref,
                "owner": m.owner,
                "description": m.description,
                "supplier": m.supplier,
            }
            model = upsert(
                self.session, self.c["models"], self.models_.get(m.name), InventoryModel, values
            )
            self.model_ids[m.name] = model.id
            for v in m.versions:
                version = upsert(
                    self.session,
                    self.c["model_versions"],
                    self.versions.get((model.id, v.version)),
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
                self.version_ids[f"{m.name}@{v.version}"] = version.id

    def datasets(self, document: InventoryDocument) -> None:
        for d in document.datasets:
            row = upsert(
                self.session,
                self.c["datasets"],
                self.datasets_.get(d.name),
                InventoryDataset,
                {
                    "name": d.name,
                    "uri": d.uri,
                    "digest": d.digest,
                    "owner": d.owner,
                    "supplier": d.supplier,
                },
            )
            self.dataset_ids[d.name] = row.id

    def endpoints(self, document: InventoryDocument) -> None:
        for e in document.endpoints:
            values = {
                "name": e.name,
                "provider": e.provider,
                "ref": e.ref,
                "environment": e.environment,
                "model_version_id": None if e.model is None else self.version_ids[e.model],
                "application_id": None if e.application is None else self.app_ids[e.application],
                "status": e.status,
                "chat_url": e.chat_url,
                "chat_model": e.chat_model,
                "supplier": e.supplier,
            }
            row = upsert(
                self.session,
                self.c["endpoints"],
                self.endpoints_.get(e.name),
                InventoryEndpoint,
                values,
            )
            self.endpoint_ids[e.name] = row.id

    def api_keys(self, document: InventoryDocument) -> None:
        for k in document.api_keys:
            values = {
                "key_id": k.key_id,
                "provider": k.provider,
                "prefix": k.prefix,
                "owner": k.owner,
                "scopes": list(k.scopes),
                "status": k.status,
                "application_id": None if k.application is None else self.app_ids[k.application],
            }
            row = upsert(
                self.session,
                self.c["api_keys"],
                self.keys.get((k.provider, k.key_id)),
                InventoryApiKey,
                values,
            )
            self.key_ids[(k.provider, k.key_id)] = row.id

    def prompts(self, document: InventoryDocument) -> None:
        for p in document.prompts:
            values = {
                "name": p.name,
                "provider": p.provider,
                "alias": p.alias,
                "application_id": None if p.application is None else self.app_ids[p.application],
                "owner": p.owner,
                "replacement_version": p.replacement_version,
                # Digests only: the canary itself is never stored (smokejumper.canary).
                "canaries": [canary_digest(c).to_json() for c in p.canaries],
            }
            row = upsert(
                self.session, self.c["prompts"], self.prompts_.get(p.name), InventoryPrompt, values
            )
            self.prompt_ids[p.name] = row.id

    def resolve(self, text: str) -> tuple[str, int]:
        # References were checked when the document was loaded, so lookups cannot miss.
        ref = parse_ref(text)
        if ref.type == "key":
            return "key", next(
                i
                for (p, kid), i in self.key_ids.items()
                if kid == ref.name and ref.provider in (None, p)
            )
        table = {
            "application": self.app_ids,
            "model": self.model_ids,
            "model_version": self.version_ids,
            "endpoint": self.endpoint_ids,
            "dataset": self.dataset_ids,
        }[ref.type]
        return ref.type, table[ref.name]

    def links(self, document: InventoryDocument) -> None:
        for link in document.links:
            src_type, src_id = self.resolve(link.src)
            dst_type, dst_id = self.resolve(link.dst)
            natural = (src_type, src_id, link.relation, dst_type, dst_id)
            existing = self.existing_links.get(natural)
            if existing is None:
                new = InventoryLink(
                    src_type=src_type,
                    src_id=src_id,
                    relation=link.relation,
                    dst_type=dst_type,
                    dst_id=dst_id,
                )
                self.session.add(new)
                self.session.flush()
                self.existing_links[natural] = new
                self.kept_links.add(new.id)
                self.c["links"].created += 1
            elif existing.id not in self.kept_links:  # an edge written twice counts once
                self.kept_links.add(existing.id)
                self.c["links"].unchanged += 1

    def prune(self) -> None:
        # Children before parents, so no foreign key points at a deleted row.
        session, c = self.session, self.c
        _prune(session, c["links"], list(session.scalars(select(InventoryLink))), self.kept_links)
        _prune(session, c["api_keys"], list(self.keys.values()), set(self.key_ids.values()))
        _prune(session, c["prompts"], list(self.prompts_.values()), set(self.prompt_ids.values()))
        _prune(
            session, c["endpoints"], list(self.endpoints_.values()), set(self.endpoint_ids.values())
        )
        _prune(
            session,
            c["model_versions"],
            list(self.versions.values()),
            set(self.version_ids.values()),
        )
        _prune(session, c["models"], list(self.models_.values()), set(self.model_ids.values()))
        _prune(
            session, c["datasets"], list(self.datasets_.values()), set(self.dataset_ids.values())
        )
        _prune(session, c["applications"], list(self.apps.values()), set(self.app_ids.values()))
        _prune(
            session,
            c["suppliers"],
            list(self.suppliers_.values()),
            set(self.supplier_ids.values()),
        )
