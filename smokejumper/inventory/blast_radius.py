"""What an incident on one inventory entry reaches.

Impact flows along these edges, each walked in the direction that matters for the target:

- dataset → model versions trained on it (a poisoned dataset taints what was trained on it);
- model version → versions derived from it (any model_version→model_version link, e.g.
  `fine_tuned_from`), transitively up to MAX_DEPTH hops;
- model version → endpoints serving it (the endpoint's model, or an endpoint→model_version
  link) → keys that can call those endpoints (a `calls` link, or the key belongs to the
  endpoint's application) and the applications involved;
- a key reaches the endpoints it calls and those of its application, and through them
  their model versions; a key's blast radius holds no other keys, since they are not exposed;
- an application reaches its endpoints and keys (and endpoints linked from it);
- datasets and models of every reached version are listed as context.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from smokejumper.inventory.schema import parse_ref
from smokejumper.store.db import Store
from smokejumper.store.tables import (
    InventoryApiKey,
    InventoryApplication,
    InventoryDataset,
    InventoryEndpoint,
    InventoryLink,
    InventoryModel,
    InventoryModelVersion,
)

MAX_DEPTH = 8
TRAINED_ON = frozenset({"trained_on", "fine_tuned_on", "evaluated_on", "uses"})


class TargetError(ValueError):
    """The target is malformed (`usage`) or names nothing in the inventory."""

    def __init__(self, message: str, *, usage: bool) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass
class BlastRadius:
    target: str
    models: set[str] = field(default_factory=set)
    model_versions: set[str] = field(default_factory=set)
    endpoints: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    applications: set[str] = field(default_factory=set)
    datasets: set[str] = field(default_factory=set)
    # For the tree: which version each endpoint serves, which endpoints each key reaches.
    serves: dict[str, str | None] = field(default_factory=dict)
    key_endpoints: dict[str, set[str]] = field(default_factory=dict)
    trained_on: dict[str, set[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "models": sorted(self.models),
            "model_versions": sorted(self.model_versions),
            "endpoints": sorted(self.endpoints),
            "keys": sorted(self.keys),
            "applications": sorted(self.applications),
            "datasets": sorted(self.datasets),
            "serves": dict(sorted(self.serves.items())),
            "key_endpoints": {k: sorted(v) for k, v in sorted(self.key_endpoints.items())},
            "trained_on": {k: sorted(v) for k, v in sorted(self.trained_on.items())},
        }


class _Graph:
    def __init__(self, store: Store) -> None:
        with store.session() as session:
            self.apps = {r.id: r for r in session.scalars(select(InventoryApplication))}
            self.models = {r.id: r for r in session.scalars(select(InventoryModel))}
            self.versions = {r.id: r for r in session.scalars(select(InventoryModelVersion))}
            self.datasets = {r.id: r for r in session.scalars(select(InventoryDataset))}
            self.endpoints = {r.id: r for r in session.scalars(select(InventoryEndpoint))}
            self.keys = {r.id: r for r in session.scalars(select(InventoryApiKey))}
            self.links = list(session.scalars(select(InventoryLink)))

    def linked(
        self, src_type: str, dst_type: str, relations: Iterable[str] | None = None
    ) -> list[tuple[int, int]]:
        wanted = None if relations is None else set(relations)
        return [
            (link.src_id, link.dst_id)
            for link in self.links
            if link.src_type == src_type
            and link.dst_type == dst_type
            and (wanted is None or link.relation in wanted)
        ]

    def version_name(self, version_id: int) -> str:
        version = self.versions[version_id]
        return f"{self.models[version.model_id].name}@{version.version}"

    def key_name(self, key_id: int) -> str:
        key = self.keys[key_id]
        same_id = [k for k in self.keys.values() if k.key_id == key.key_id]
        return key.key_id if len(same_id) == 1 else f"{key.provider}/{key.key_id}"

    # Impact edges.

    def derived_closure(self, version_ids: set[int]) -> set[int]:
        edges = self.linked("model_version", "model_version")
        result = set(version_ids)
        frontier = set(version_ids)
        for _ in range(MAX_DEPTH):
            # `child -fine_tuned_from-> parent`: a tainted parent taints the child.
            frontier = {child for child, parent in edges if parent in frontier} - result
            if not frontier:
                break
            result |= frontier
        return result

    def endpoints_serving(self, version_ids: set[int]) -> set[int]:
        direct = {e.id for e in self.endpoints.values() if e.model_version_id in version_ids}
        linked = {e for e, v in self.linked("endpoint", "model_version") if v in version_ids}
        return direct | linked

    def versions_served(self, endpoint_ids: set[int]) -> set[int]:
        direct = {
            e.model_version_id
            for e in (self.endpoints[i] for i in endpoint_ids)
            if e.model_version_id is not None
        }
        linked = {v for e, v in self.linked("endpoint", "model_version") if e in endpoint_ids}
        return direct | linked

    def callers(self, endpoint_ids: set[int]) -> set[int]:
        apps = {self.endpoints[i].application_id for i in endpoint_ids} - {None}
        by_link = {k for k, e in self.linked("key", "endpoint", {"calls"}) if e in endpoint_ids}
        by_app = {k.id for k in self.keys.values() if k.application_id in apps}
        return by_link | by_app

    def reachable_from_key(self, key_id: int) -> set[int]:
        key = self.keys[key_id]
        by_link = {e for k, e in self.linked("key", "endpoint", {"calls"}) if k == key_id}
        by_app = {
            e.id
            for e in self.endpoints.values()
            if key.application_id is not None and e.application_id == key.application_id
        }
        return by_link | by_app

    def datasets_of(self, version_ids: set[int]) -> dict[int, set[int]]:
        result: dict[int, set[int]] = {}
        for v, d in self.linked("model_version", "dataset", TRAINED_ON):
            if v in version_ids:
                result.setdefault(v, set()).add(d)
        return result


def _find(graph: _Graph, target: str) -> tuple[str, set[int]]:
    try:
        ref = parse_ref(target)
    except ValueError as exc:
        raise TargetError(str(exc), usage=True) from None
    found: set[int]
    if ref.type == "model_version":
        model, _, version = ref.name.partition("@")
        found = {
            v.id
            for v in graph.versions.values()
            if v.version == version and graph.models[v.model_id].name == model
        }
    elif ref.type == "model":
        found = {m.id for m in graph.models.values() if m.name == ref.name}
    elif ref.type == "key":
        found = {
            k.id
            for k in graph.keys.values()
            if k.key_id == ref.name and ref.provider in (None, k.provider)
        }
        if len(found) > 1:
            raise TargetError(
                f"key {ref.name!r} exists at several providers; write key:<provider>/<id>",
                usage=True,
            )
    else:
        tables: dict[str, dict[int, Any]] = {
            "application": graph.apps,
            "endpoint": graph.endpoints,
            "dataset": graph.datasets,
        }
        table = tables[ref.type]
        found = {i for i, row in table.items() if row.name == ref.name}
    if not found:
        raise TargetError(f"{target!r} is not in the inventory", usage=False)
    return ref.type, found


def blast_radius(store: Store, target: str) -> BlastRadius:
    """Raises TargetError for a malformed target or one the inventory lacks."""
    graph = _Graph(store)
    kind, found = _find(graph, target)
    versions: set[int] = set()
    endpoints: set[int] = set()
    keys: set[int] = set()
    apps: set[int] = set()
    datasets: set[int] = set()
    key_scoped = False

    if kind == "dataset":
        datasets |= found
        versions = {
            v for v, d in graph.linked("model_version", "dataset", TRAINED_ON) if d in found
        }
    elif kind == "model":
        versions = {v.id for v in graph.versions.values() if v.model_id in found}
    elif kind == "model_version":
        versions = set(found)
    elif kind == "endpoint":
        endpoints = set(found)
        versions = graph.versions_served(endpoints)
    elif kind == "key":
        key_scoped = True
        keys = set(found)
        for key_id in found:
            endpoints |= graph.reachable_from_key(key_id)
        versions = graph.versions_served(endpoints)
    else:
        apps = set(found)
        endpoints = {e.id for e in graph.endpoints.values() if e.application_id in found}
        endpoints |= {e for a, e in graph.linked("application", "endpoint") if a in found}
        keys = {k.id for k in graph.keys.values() if k.application_id in found}
        key_scoped = True
        versions = graph.versions_served(endpoints)

    if kind in ("dataset", "model", "model_version"):
        versions = graph.derived_closure(versions)
        endpoints = graph.endpoints_serving(versions)
    if not key_scoped:
        keys |= graph.callers(endpoints)
    owners = [graph.endpoints[e].application_id for e in endpoints]
    owners += [graph.keys[k].application_id for k in keys]
    apps |= {a for a in owners if a is not None}
    trained = graph.datasets_of(versions)
    for names in trained.values():
        datasets |= names

    result = BlastRadius(target=target)
    result.model_versions = {graph.version_name(v) for v in versions}
    result.models = {graph.models[graph.versions[v].model_id].name for v in versions}
    result.endpoints = {graph.endpoints[e].name for e in endpoints}
    result.keys = {graph.key_name(k) for k in keys}
    result.applications = {graph.apps[a].name for a in apps}
    result.datasets = {graph.datasets[d].name for d in datasets}
    for e in endpoints:
        served = graph.endpoints[e].model_version_id
        result.serves[graph.endpoints[e].name] = (
            None if served is None else graph.version_name(served)
        )
    for k in keys:
        reached = graph.reachable_from_key(k) & endpoints
        result.key_endpoints[graph.key_name(k)] = {graph.endpoints[e].name for e in reached}
    for v, ds in trained.items():
        result.trained_on[graph.version_name(v)] = {graph.datasets[d].name for d in ds}
    return result


def render_tree(radius: BlastRadius) -> str:
    """A readable tree: models → versions → (datasets, endpoints → keys), then the rest."""
    lines = [f"blast radius of {radius.target}"]
    by_model: dict[str, list[str]] = {}
    for version in sorted(radius.model_versions):
        by_model.setdefault(version.partition("@")[0], []).append(version)
    shown_keys: set[str] = set()
    shown_endpoints: set[str] = set()
    top: list[tuple[str, list[Any]]] = []
    for model, versions in sorted(by_model.items()):
        children: list[Any] = []
        for version in versions:
            grand: list[Any] = [
                (f"trained on dataset {d}", []) for d in sorted(radius.trained_on.get(version, ()))
            ]
            for endpoint in sorted(e for e, v in radius.serves.items() if v == version):
                shown_endpoints.add(endpoint)
                callers = sorted(k for k, es in radius.key_endpoints.items() if endpoint in es)
                shown_keys.update(callers)
                grand.append((f"endpoint {endpoint}", [(f"key {k}", []) for k in callers]))
            children.append((f"version {version.partition('@')[2]}", grand))
        top.append((f"model {model}", children))
    for endpoint in sorted(radius.endpoints - shown_endpoints):
        callers = sorted(k for k, es in radius.key_endpoints.items() if endpoint in es)
        shown_keys.update(callers)
        top.append((f"endpoint {endpoint}", [(f"key {k}", []) for k in callers]))
    for key in sorted(radius.keys - shown_keys):
        top.append((f"key {key} (reaches no endpoint)", []))
    if radius.applications:
        top.append(("applications: " + ", ".join(sorted(radius.applications)), []))
    extra = radius.datasets - {d for ds in radius.trained_on.values() for d in ds}
    if extra:
        top.append(("datasets: " + ", ".join(sorted(extra)), []))

    def walk(nodes: list[tuple[str, list[Any]]], indent: str) -> None:
        for index, (label, kids) in enumerate(nodes):
            last = index == len(nodes) - 1
            lines.append(f"{indent}{'└── ' if last else '├── '}{label}")
            walk(kids, indent + ("    " if last else "│   "))

    walk(top, "")
    lines.append(
        f"{len(radius.model_versions)} model versions, {len(radius.endpoints)} endpoints, "
        f"{len(radius.keys)} keys, {len(radius.applications)} applications, "
        f"{len(radius.datasets)} datasets"
    )
    return "\n".join(lines)
