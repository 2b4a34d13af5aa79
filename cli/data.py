"""`smokejumper backup`, `restore` and `erase`: keeping and removing the store's data.

They work on the store directly (as `db upgrade` and `audit verify` do), so they run where
the configuration, the audit key and the database are reachable. `erase` has an admin API
route as well (`POST /api/v1/erasures`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from cli.output import fail, print_json
from integrations.evidence.checkpoints import head_checkpoints
from integrations.evidence.registry import evidence_store
from smokejumper.config import Settings
from smokejumper.incidents import erasure
from smokejumper.private_files import private_dir
from smokejumper.store import backup as backups
from smokejumper.store.audit import ChainReport, verify_chain
from smokejumper.store.audit_key import AuditKeyError, audit_key
from smokejumper.store.open import open_store


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.find_root().obj.settings
    return settings


def _verify(settings: Settings) -> ChainReport:
    store = open_store(settings, head_checkpoints(settings), create_key=False)
    try:
        return verify_chain(store)
    finally:
        store.dispose()


def backup(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="A new (or empty) folder for the backup.")],
) -> None:
    """Back up the store, its evidence and the audit log's head checkpoint into OUT, with
    a manifest of checksums. Safe while the engine runs. The audit key is not included."""
    settings = _settings(ctx)
    try:
        manifest = backups.backup(
            settings.effective_database_url,
            out,
            evidence_store(settings),
            head_checkpoints(settings),
        )
    except backups.BackupError as exc:
        raise fail(str(exc), 1) from None
    counts = ", ".join(f"{n} {table}" for table, n in sorted(manifest.counts.items()))
    objects = sum(1 for name in manifest.files if name.startswith(backups.EVIDENCE_DIR))
    typer.echo(
        f"backup written to {out}: {manifest.dialect} at schema {manifest.schema_revision} "
        f"({counts}), {objects} evidence object(s)"
    )
    if manifest.missing_evidence:
        ids = ", ".join(map(str, manifest.missing_evidence))
        typer.secho(
            f"warning: evidence {ids} had no object in the store (deleted meanwhile?)",
            err=True,
            fg=typer.colors.YELLOW,
        )


def restore(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Option("--from", help="A folder `smokejumper backup` wrote.", exists=False)
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a store that is not empty.")
    ] = False,
) -> None:
    """Restore a backup into the configured store and evidence store (stop the engine
    first), then verify the audit log. Needs the deployment's audit key."""
    settings = _settings(ctx)
    try:
        key = audit_key(settings, create=False)
    except AuditKeyError as exc:
        raise fail(f"{exc}; a restore is verified with the key that wrote the log", 2) from None
    if backups.sqlite_path(settings.effective_database_url) is not None:
        private_dir(settings.data_dir)
    if settings.evidence.store == "local":
        private_dir(settings.evidence_directory)
    try:
        done = backups.restore(
            settings.effective_database_url,
            source,
            evidence_store(settings),
            head_checkpoints(settings),
            force=force,
            key=key,
        )
    except backups.BackupError as exc:
        raise fail(str(exc), 1) from None
    counts = ", ".join(f"{n} {table}" for table, n in sorted(done.manifest.counts.items()))
    typer.echo(
        f"restored the backup of {done.manifest.created_at} ({counts}), "
        f"{done.evidence_objects} evidence object(s)"
    )
    if done.upgraded_to is not None:
        typer.echo(f"database upgraded to revision {done.upgraded_to}")
    report = _verify(settings)
    for problem in report.problems:
        typer.secho(f"row {problem.entry_id}: {problem.problem}", err=True, fg=typer.colors.RED)
    if report.problems:
        raise fail("the restored audit log does not verify (is this the deployment's key?)", 1)
    typer.echo(f"audit log intact: {report.count} rows, chain verified")


def erase(
    ctx: typer.Context,
    subject: Annotated[
        str,
        typer.Option(
            "--subject",
            help="The personal data to erase: an e-mail address, phone number, card, IBAN "
            "or SSN, as the redactor recognises it.",
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why (the request's reference); audited.")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Erase a data subject's personal data from alerts, dead letters, incidents, notes,
    tasks, timelines, evidence and the audit log (GDPR Art. 17); what a legal hold keeps
    is withheld and reported."""
    settings = _settings(ctx)
    try:
        request = erasure.ErasureRequest(subject=subject, reason=reason or None)
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise fail(problems, 2) from None
    store = open_store(settings, head_checkpoints(settings))
    try:
        done = erasure.erase(
            store,
            request,
            evidence_store(settings),
            by=settings.operator,
            via="cli",
        )
    except erasure.NotPersonalData as exc:
        raise fail(str(exc), 2) from None
    finally:
        store.dispose()
    if as_json:
        print_json(done.model_dump())
        return
    typer.echo(f"erasure {done.erasure_id}: {done.kind} subject {done.subject_ref}")
    for what, count in sorted(done.erased.items()):
        typer.echo(f"  {what}: {count}")
    if not done.erased:
        typer.echo("  nothing erased")
    for item in done.withheld:
        typer.secho(f"  withheld: {item}", fg=typer.colors.YELLOW)
