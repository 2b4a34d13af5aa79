"""What the AI inventory knows about an incident's target: owners to notify, the blast
radius to contain, the digest the model should have, its last known good version, and
whether the system is high-risk under the EU AI Act.

A target the inventory lacks is an answer too (`found` false): the playbook carries on with
what the alert said, and the report shows the gap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from smokejumper.contracts.assessment import INVENTORY_CONTEXT
from smokejumper.domain.response import EndpointInfo, InventoryContext, InventoryQuery, KeyRef
from smokejumper.inventory.blast_radius import BlastRadius, TargetError, blast_radius
from smokejumper.store.db import Store
from smokejumper.store.tables import (
    InventoryApiKey,
    InventoryApplication,
    InventoryEndpoint,
    InventoryLink,
    InventoryModel,
    InventoryModelVersion,
)

# Scopes, or links from a key to a model, that let a key publish model versions.
REGISTRY_WRITE_SCOPES = frozenset({"registry:write", "model:write", "models:write", "publish"})
REGISTRY_WRITE_RELATIONS = frozenset({"writes", "publishes", "deploys"})


def _target(query: InventoryQuery) -> str | None:
    if query.endpoint:
        return f"endpoint:{query.endpoint}"
    if query.model and query.model_version:
        return f"model:{query.model}@{query.model_version}"
    if query.model:
        return f"model:{query.model}"
    if query.application:
        return f"application:{query.application}"
    if query.key_id:
        return f"key:{query.key_id}"
    return None


class InventoryLookupActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @INVENTORY_CONTEXT.implementation
    async def inventory_context(self, query: InventoryQuery) -> InventoryContext:
        """Owners, blast radius, expected digest, last known good and the high-risk flag."""
        return await asyncio.to_thread(self._lookup, query)

    def _lookup(self, query: InventoryQuery) -> InventoryContext:
        target = _target(query)
        if target is None:
            return InventoryContext()
        try:
            radius = blast_radius(self.store, target)
        except TargetError:
            # An endpoint the alert names by path may be unknown while its model is listed.
            if query.endpoint and (query.model or query.application):
                return self._lookup(query.model_copy(update={"endpoint": None}))
            return InventoryContext(target=target)
        with self.store.session() as session:
            found = _load(session, radius, query)
        return _context(target, radius, query, found)


@dataclass
class _Rows:
    """The inventory rows the blast radius reaches."""

    apps: Sequence[InventoryApplication]
    endpoints: Sequence[InventoryEndpoint]
    keys: Sequence[InventoryApiKey]
    writer_links: Sequence[InventoryLink]
    model: InventoryModel | None
    versions: Sequence[InventoryModelVersion]


def _load(session: Session, radius: BlastRadius, query: InventoryQuery) -> _Rows:
    apps = session.scalars(
        select(InventoryApplication).where(InventoryApplication.name.in_(radius.applications))
    ).all()
    endpoints = session.scalars(
        select(InventoryEndpoint).where(InventoryEndpoint.name.in_(radius.endpoints))
    ).all()
    model_names = set(radius.models) | ({query.model} if query.model else set())
    models = {
        m.id: m
        for m in session.scalars(select(InventoryModel).where(InventoryModel.name.in_(model_names)))
    }
    writer_links = session.scalars(
        select(InventoryLink).where(
            InventoryLink.src_type == "key",
            InventoryLink.dst_type == "model",
            InventoryLink.relation.in_(REGISTRY_WRITE_RELATIONS),
        )
    ).all()
    model = next(
        (m for m in models.values() if m.name == query.model),
        next(iter(models.values()), None) if len(models) == 1 else None,
    )
    versions = (
        session.scalars(
            select(InventoryModelVersion)
            .where(InventoryModelVersion.model_id == model.id)
            .order_by(InventoryModelVersion.created_at, InventoryModelVersion.id)
        ).all()
        if model is not None
        else []
    )
    keys = session.scalars(select(InventoryApiKey)).all()
    return _Rows(apps, endpoints, keys, writer_links, model, versions)


def _refs(keys: Iterable[InventoryApiKey]) -> list[KeyRef]:
    return [
        KeyRef(provider=k.provider, key_id=k.key_id) for k in sorted(keys, key=lambda k: k.key_id)
    ]


def _versions(
    versions: Sequence[InventoryModelVersion], serving: str | None
) -> tuple[InventoryModelVersion | None, InventoryModelVersion | None]:
    """The version the alert names, and the newest known good version before it."""
    current = next((v for v in versions if v.version == serving), None)
    earlier = [
        v
        for v in versions
        if current is None
        or v.created_at < current.created_at
        or (v.created_at == current.created_at and v.id < current.id)
    ]
    good = [v for v in earlier if v.known_good and v.status not in {"revoked", "quarantined"}]
    return current, (good[-1] if good else None)


def _context(
    target: str, radius: BlastRadius, query: InventoryQuery, rows: _Rows
) -> InventoryContext:
    model = rows.model
    own_apps = {e.application_id for e in rows.endpoints if e.name == query.endpoint}
    own_apps |= {a.id for a in rows.apps if a.name == query.application}
    own_keys = [
        k for k in rows.keys if k.application_id is not None and k.application_id in own_apps
    ]
    key_names = set(radius.keys)
    reached = [
        k for k in rows.keys if k.key_id in key_names or f"{k.provider}/{k.key_id}" in key_names
    ]
    writers_by_link = {
        link.src_id for link in rows.writer_links if model and link.dst_id == model.id
    }
    writers = [
        k
        for k in rows.keys
        if k.id in writers_by_link or (model and REGISTRY_WRITE_SCOPES & set(k.scopes or []))
    ]
    current, good = _versions(rows.versions, query.model_version)
    owners = [a.owner for a in rows.apps if a.owner]
    if model is not None and model.owner:
        owners.append(model.owner)
    owners += [k.owner for k in reached if k.owner]
    return InventoryContext(
        target=target,
        found=True,
        owners=sorted(set(owners)),
        applications=sorted(radius.applications),
        endpoints=[
            EndpointInfo(
                name=e.name,
                provider=e.provider,
                environment=e.environment,
                serves=radius.serves.get(e.name),
            )
            for e in sorted(rows.endpoints, key=lambda e: e.name)
        ],
        keys=_refs(reached),
        application_keys=_refs(own_keys),
        registry_writers=_refs(writers),
        production=any(e.environment == "production" for e in rows.endpoints),
        high_risk=any(a.high_risk for a in rows.apps),
        model=model.name if model is not None else None,
        model_provider=model.provider if model is not None else None,
        expected_digest=current.digest if current is not None else None,
        last_known_good=good.version if good is not None else None,
    )
