"""`smokejumper inventory import|sync|blast-radius|list`: the AI inventory (AI-BOM).

These read and write the database directly, like `audit verify`, so they work without the
API running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from cli.output import fail, print_json, table
from smokejumper.config import ConfigError, Settings, load_settings
from smokejumper.inventory.blast_radius import TargetError, blast_radius, render_tree
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import InventoryError, read_inventory_file
from smokejumper.inventory.sync import SourceError, SyncReport, sync_inventory
from smokejumper.store.db import Store
from smokejumper.store.open import open_store
from smokejumper.store.tables import (
    InventoryApiKey,
    InventoryApplication,
    InventoryDataset,
    InventoryEndpoint,
    InventoryLink,
    InventoryModel,
    InventoryModelVersion,
)

inventory_app = typer.Typer(
    help="The AI inventory: import it, list it, ask what an incident reaches.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
T = TypeVar("T")


def _settings(ctx: typer.Context) -> Settings:
    # The root callback keeps the --config path on ctx.obj; read it without importing
    # main (which imports this module).
    root = ctx.find_root()
    config_file = getattr(root.obj, "config_file", None)
    try:
        return load_settings(config_file)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


@contextmanager
def _store(ctx: typer.Context, settings: Settings | None = None) -> Iterator[Store]:
    settings = settings or _settings(ctx)
    from integrations.evidence.checkpoints import head_checkpoints

    store = open_store(settings, head_checkpoints(settings))
    try:
        yield store
    finally:
        store.dispose()


def _db(call: Callable[[], T]) -> T:
    try:
        return call()
    except DBAPIError as exc:
        raise fail(
            f"cannot use the inventory tables ({type(exc.orig).__name__}); is the database "
            "reachable and migrated (`smokejumper db upgrade`)?",
            2,
        ) from None


@inventory_app.command("import")
def inventory_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Inventory file, YAML or .json.")],
    prune: Annotated[
        bool, typer.Option("--prune", help="Also delete entries the file no longer lists.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create or update inventory entries from FILE; running it twice changes nothing."""
    try:
        document = read_inventory_file(file)
    except InventoryError as exc:
        typer.secho(f"error: {file} is not a valid inventory", err=True, fg=typer.colors.RED)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2) from None
    with _store(ctx) as store:
        report = _db(lambda: import_inventory(store, document, prune=prune))
    if as_json:
        print_json(report.to_dict())
        return
    rows = [
        (kind, c.created, c.updated, c.unchanged, c.deleted if prune else "-")
        for kind, c in report.counts.items()
    ]
    typer.echo(table(("kind", "created", "updated", "unchanged", "deleted"), rows))
    totals = report.to_dict()["totals"]
    summary = (
        f"{totals['created']} created, {totals['updated']} updated, {totals['unchanged']} unchanged"
    )
    if prune:
        summary += f", {totals['deleted']} deleted"
    typer.echo(summary)


SYNC_SOURCES = ("mlflow", "aws-iam")


@inventory_app.command("sync")
def inventory_sync(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help="What to list: mlflow (model registry) or aws-iam (access keys).")
    ],
    rehash: Annotated[
        bool,
        typer.Option(
            "--rehash", help="Hash every version's artifacts again and report digest drift."
        ),
    ] = False,
    prefix: Annotated[
        str,
        typer.Option(
            "--prefix", help="Only models (mlflow) or IAM users (aws-iam) named with this prefix."
        ),
    ] = "",
    as_json: JsonOption = False,
) -> None:
    """Create or update inventory entries from what SOURCE lists; never deletes, and never
    overwrites a recorded digest."""
    if source not in SYNC_SOURCES:
        raise fail(f"unknown source {source!r}; one of {', '.join(SYNC_SOURCES)}", 2)
    settings = _settings(ctx)
    from integrations.inventory import SOURCES as sources

    with _store(ctx, settings) as store:
        try:
            lister = sources[source](settings, prefix)
            report: SyncReport = _db(lambda: sync_inventory(store, lister, rehash=rehash))
        except SourceError as exc:
            raise fail(str(exc), 1) from None
        except ConfigError as exc:
            raise fail(str(exc), 2) from None
    if as_json:
        print_json(report.to_dict())
    else:
        rows = [(kind, c.created, c.updated, c.unchanged) for kind, c in report.counts.items()]
        typer.echo(table(("kind", "created", "updated", "unchanged"), rows))
        typer.echo(f"{report.hashed} versions hashed")
        for problem in report.skipped:
            typer.echo(f"warning: skipped {problem}", err=True)
        for name in report.unreadable:
            typer.echo(f"warning: could not read the artifacts of {name}", err=True)
        for drift in report.drift:
            typer.echo(f"digest drift: {drift}", err=True)
    if report.drift:
        raise typer.Exit(1)


@inventory_app.command("blast-radius")
def inventory_blast_radius(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            help="model:<name>[@<version>], endpoint:<name>, key:<key_id>, "
            "application:<name> or dataset:<name>."
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Show the model versions, endpoints, keys, applications and datasets TARGET reaches."""
    with _store(ctx) as store:
        try:
            radius = _db(lambda: blast_radius(store, target))
        except TargetError as exc:
            raise fail(str(exc), 2 if exc.usage else 1) from None
    if as_json:
        print_json(radius.to_dict())
        return
    typer.echo(render_tree(radius))


def _listing(store: Store) -> dict[str, list[dict[str, Any]]]:
    with store.session() as session:
        rows = _Rows(
            apps={a.id: a.name for a in session.scalars(select(InventoryApplication))},
            models={m.id: m for m in session.scalars(select(InventoryModel))},
            versions={v.id: v for v in session.scalars(select(InventoryModelVersion))},
            datasets=list(session.scalars(select(InventoryDataset))),
            endpoints=list(session.scalars(select(InventoryEndpoint))),
            keys=list(session.scalars(select(InventoryApiKey))),
            links=list(session.scalars(select(InventoryLink))),
        )
    return {
        "applications": [{"name": name} for name in sorted(rows.apps.values())],
        "model_versions": rows.model_versions(),
        "datasets": sorted(({"name": d.name, "uri": d.uri} for d in rows.datasets), key=str),
        "endpoints": rows.endpoint_rows(),
        "api_keys": rows.key_rows(),
        "links": rows.link_rows(),
    }


@dataclass
class _Rows:
    """The inventory as `inventory list` shows it: every table, and names for ids."""

    apps: dict[int, str]
    models: dict[int, InventoryModel]
    versions: dict[int, InventoryModelVersion]
    datasets: list[InventoryDataset]
    endpoints: list[InventoryEndpoint]
    keys: list[InventoryApiKey]
    links: list[InventoryLink]

    def version_name(self, version_id: int | None) -> str | None:
        if version_id is None:
            return None
        version = self.versions[version_id]
        return f"{self.models[version.model_id].name}@{version.version}"

    def model_versions(self) -> list[dict[str, Any]]:
        rows = [
            {
                "model": self.models[v.model_id].name,
                "version": v.version,
                "digest": v.digest,
                "status": v.status,
                "known_good": v.known_good,
                "aliases": list(v.aliases or []),
            }
            for v in self.versions.values()
        ]
        return sorted(rows, key=lambda row: (row["model"], row["version"]))

    def endpoint_rows(self) -> list[dict[str, Any]]:
        rows = [
            {
                "name": e.name,
                "environment": e.environment,
                "provider": e.provider,
                "model": self.version_name(e.model_version_id),
                "application": self.apps.get(e.application_id) if e.application_id else None,
                "status": e.status,
            }
            for e in self.endpoints
        ]
        return sorted(rows, key=lambda row: str(row["name"]))

    def key_rows(self) -> list[dict[str, Any]]:
        rows = [
            {
                "key_id": k.key_id,
                "provider": k.provider,
                "prefix": k.prefix,
                "application": self.apps.get(k.application_id) if k.application_id else None,
                "status": k.status,
            }
            for k in self.keys
        ]
        return sorted(rows, key=lambda row: (str(row["provider"]), str(row["key_id"])))

    def link_rows(self) -> list[dict[str, Any]]:
        names: dict[str, dict[int, str]] = {
            "application": self.apps,
            "model": {i: m.name for i, m in self.models.items()},
            "model_version": {i: self.version_name(i) or "" for i in self.versions},
            "dataset": {d.id: d.name for d in self.datasets},
            "endpoint": {e.id: e.name for e in self.endpoints},
            "key": {k.id: f"{k.provider}/{k.key_id}" for k in self.keys},
        }

        def node(kind: str, row_id: int) -> str:
            return f"{kind}:{names[kind].get(row_id, f'#{row_id} (missing)')}"

        rows = [
            {
                "from": node(link.src_type, link.src_id),
                "relation": link.relation,
                "to": node(link.dst_type, link.dst_id),
            }
            for link in self.links
        ]
        return sorted(rows, key=lambda row: (row["from"], row["relation"], row["to"]))


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or None
    return value


@inventory_app.command("list")
def inventory_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List everything in the inventory."""
    with _store(ctx) as store:
        data = _db(lambda: _listing(store))
    if as_json:
        print_json(data)
        return
    sections: list[tuple[str, tuple[str, ...]]] = [
        ("applications", ("name",)),
        ("model_versions", ("model", "version", "status", "known_good", "aliases", "digest")),
        ("datasets", ("name", "uri")),
        ("endpoints", ("name", "environment", "provider", "model", "application", "status")),
        ("api_keys", ("key_id", "provider", "prefix", "application", "status")),
        ("links", ("from", "relation", "to")),
    ]
    for title, columns in sections:
        rows = data[title]
        typer.echo(f"{title.replace('_', ' ')} ({len(rows)})")
        if rows:
            typer.echo(table(columns, [tuple(_cell(row[c]) for c in columns) for row in rows]))
        typer.echo("")
    if not any(data[k] for k in data):
        typer.echo("the inventory is empty; load one with `smokejumper inventory import FILE`")
