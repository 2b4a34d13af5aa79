"""What the AI inventory knows about an incident's target: owners to notify, the blast
radius to contain, the digest the model should have, its last known good version, and
whether the system is high-risk under the EU AI Act.

A target the inventory lacks is an answer too (`found` false): the playbook carries on with
what the alert said, and the report shows the gap.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from smokejumper.contracts.assessment import INVENTORY_CONTEXT
from smokejumper.domain.response import EndpointInfo, InventoryContext, InventoryQuery, KeyRef
from smokejumper.inventory.blast_radius import TargetError, blast_radius
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
            apps = session.scalars(
                select(InventoryApplication).where(
                    InventoryApplication.name.in_(radius.applications)
                )
            ).all()
            endpoints = session.scalars(
                select(InventoryEndpoint).where(InventoryEndpoint.name.in_(radius.endpoints))
            ).all()
            model_names = set(radius.models) | ({query.model} if query.model else set())
            models = {
                m.id: m
                for m in session.scalars(
                    select(InventoryModel).where(InventoryModel.name.in_(model_names))
                )
            }
            keys = session.scalars(select(InventoryApiKey)).all()
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
        own_apps = {e.application_id for e in endpoints if e.name == query.endpoint}
        own_apps |= {a.id for a in apps if a.name == query.application}
        own_keys = [
            k for k in keys if k.application_id is not None and k.application_id in own_apps
        ]
        key_names = set(radius.keys)
        reached = [
            k for k in keys if k.key_id in key_names or f"{k.provider}/{k.key_id}" in key_names
        ]
        writers_by_link = {
            link.src_id for link in writer_links if model and link.dst_id == model.id
        }
        writers = [
            k
            for k in keys
            if k.id in writers_by_link or (model and REGISTRY_WRITE_SCOPES & set(k.scopes or []))
        ]
        current = next((v for v in versions if v.version == query.model_version), None)
        earlier = [
            v
            for v in versions
            if current is None
            or v.created_at < current.created_at
            or (v.created_at == current.created_at and v.id < current.id)
        ]
        good = [v for v in earlier if v.known_good and v.status not in {"revoked", "quarantined"}]
        owners = [a.owner for a in apps if a.owner]
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
                for e in sorted(endpoints, key=lambda e: e.name)
            ],
            keys=[
                KeyRef(provider=k.provider, key_id=k.key_id)
                for k in sorted(reached, key=lambda k: k.key_id)
            ],
            application_keys=[
                KeyRef(provider=k.provider, key_id=k.key_id)
                for k in sorted(own_keys, key=lambda k: k.key_id)
            ],
            registry_writers=[
                KeyRef(provider=k.provider, key_id=k.key_id)
                for k in sorted(writers, key=lambda k: k.key_id)
            ],
            production=any(e.environment == "production" for e in endpoints),
            high_risk=any(a.high_risk for a in apps),
            model=model.name if model is not None else None,
            model_provider=model.provider if model is not None else None,
            expected_digest=current.digest if current is not None else None,
            last_known_good=good[-1].version if good else None,
        )
