"""`smokejumper`: run the engine and operate incidents from a terminal.

Exit codes: 0 success, 1 the operation was refused or failed, 2 bad usage or configuration,
3 the API could not be reached.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import DBAPIError

from cli.api_client import ApiClient, call
from cli.api_client import json_of as _json
from cli.api_client import print_rejection as _print_rejection
from cli.case_work import register as register_case_work
from cli.data import backup as _backup
from cli.data import erase as _erase
from cli.data import restore as _restore
from cli.demo import demo
from cli.evidence import evidence_app
from cli.inventory import inventory_app
from cli.mcp import mcp as _mcp
from cli.output import fail, print_json, table
from cli.playbooks import playbooks_app
from cli.tasks import acknowledge as _acknowledge
from cli.tasks import tasks_app
from cli.users import users_app
from smokejumper import __version__
from smokejumper.config import ConfigError, Settings, load_settings
from smokejumper.domain.incidents import IncidentState, close_confirmation
from smokejumper.logs import configure_logging
from smokejumper.private_files import private_dir
from smokejumper.security.payload_key import ensure_payload_key

app = typer.Typer(
    name="smokejumper",
    help="Incident response for Generative-AI systems, on Temporal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
alert_app = typer.Typer(help="Send alerts; list and replay dead letters.", no_args_is_help=True)
incidents_app = typer.Typer(help="List, show and close incidents.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(alert_app, name="alert")
app.add_typer(alert_app, name="alerts", help="Same as `alert`.")
app.add_typer(incidents_app, name="incidents")
register_case_work(incidents_app)
app.add_typer(playbooks_app, name="playbooks")
app.add_typer(inventory_app, name="inventory")
app.add_typer(users_app, name="users")
app.add_typer(evidence_app, name="evidence")
app.add_typer(tasks_app, name="tasks")
incidents_app.command("ack")(_acknowledge)
app.command("backup")(_backup)
app.command("restore")(_restore)
app.command("erase")(_erase)
app.command("mcp")(_mcp)


class _Context:
    def __init__(self, config_file: Path | None) -> None:
        self.config_file = config_file
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_file)
            except ConfigError as exc:
                raise fail(str(exc), 2) from None
        return self._settings


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file (default: $SMOKEJUMPER_CONFIG or ./smokejumper.toml).",
        ),
    ] = None,
) -> None:
    ctx.obj = _Context(config)


def _settings(ctx: typer.Context) -> Settings:
    context: _Context = ctx.obj
    return context.settings


def _run_process(ctx: typer.Context, name: str, queues: list[str] | None = None) -> None:
    settings = _settings(ctx)
    # An embedded engine's process started on its own encrypts like the ones `up` starts.
    ensure_payload_key(settings)
    configure_logging(
        settings.log_level,
        settings.secret_values(),
        process=name,
        log_format=settings.observability.log_format,
    )
    # Imported when run: the other commands start without loading every provider.
    from workers import api, scheduler, worker

    processes: dict[str, Callable[[Settings], None]] = {
        "worker": worker.main,
        "api": api.main,
        "scheduler": scheduler.main,
    }
    try:
        if queues:
            worker.main(settings, queues)
        else:
            processes[name](settings)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"smokejumper {__version__}")


@app.command()
def up(ctx: typer.Context) -> None:
    """Run everything on this machine: Temporal dev server, worker, API, scheduler."""
    settings = _settings(ctx)
    ensure_payload_key(settings)
    configure_logging(
        settings.log_level,
        settings.secret_values(),
        process="up",
        log_format=settings.observability.log_format,
    )
    from workers import up as engine

    context: _Context = ctx.obj
    try:
        code = engine.main(settings, context.config_file)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    raise typer.Exit(code)


app.command()(demo)


@app.command()
def worker(
    ctx: typer.Context,
    queues: Annotated[
        str | None,
        typer.Option(
            help="Serve only these integration queues (entries of "
            "temporal.integration_queues, comma-separated, e.g. keys,endpoints.kubernetes): "
            "their providers' activities, no playbooks.",
        ),
    ] = None,
) -> None:
    """Run a Temporal worker for playbooks and activities."""
    if queues is None:
        _run_process(ctx, "worker")
        return
    from workers import integration_worker

    try:
        chosen = integration_worker.parse_queues(queues, _settings(ctx).temporal)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    _run_process(ctx, "worker", queues=chosen)


@app.command()
def api(ctx: typer.Context) -> None:
    """Run the HTTP API server."""
    _run_process(ctx, "api")


@app.command()
def scheduler(ctx: typer.Context) -> None:
    """Run the scheduler (outbox dispatch, pollers); safe to run more than one."""
    _run_process(ctx, "scheduler")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply database migrations up to the newest."""
    from smokejumper.store.migrate import upgrade as apply

    settings = _settings(ctx)
    private_dir(settings.data_dir)
    try:
        revision = apply(settings.effective_database_url)
    except DBAPIError as exc:
        # A migration Job started before its database answers says why in one line; the
        # driver's message names host, database and role, never the password.
        reason = (str(exc.orig).strip().splitlines() or [""])[0]
        raise fail(
            f"cannot migrate the database ({type(exc.orig).__name__}): {reason}", 1
        ) from None
    typer.echo(f"database at revision {revision}")


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}", 2) from None


@alert_app.command("send")
def alert_send(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="Alert JSON file, or - for standard input.")],
    source: Annotated[
        str | None,
        typer.Option(help="Send in this source's own format (e.g. lakera); default: generic."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's answer as JSON.")] = (
        False
    ),
) -> None:
    """Send an alert; prints the incident it opened or joined, or the fields at fault."""
    body = _read_input(file)
    client = ApiClient(_settings(ctx))
    path = "/api/v1/alerts" if source is None else f"/api/v1/alerts/{source}"
    response = client.request(
        "POST", path, content=body, headers={"content-type": "application/json"}
    )
    data = _json(response)
    if response.status_code != 202:
        if as_json:
            print_json(data)
        _print_rejection(response.status_code, data)
        raise typer.Exit(1)
    if as_json:
        print_json(data)
        return
    if "lines" in data:
        _print_stream_answer(data)
        if data.get("refused"):
            raise typer.Exit(1)  # kept as dead letters, but the sender should know
        return
    verb = "joined" if data["deduplicated"] else "opened"
    typer.echo(
        f"alert {data['alert_id']} accepted: {verb} incident {data['incident_id']} "
        f"(playbook {data['playbook']}, workflow {data['workflow_id']})"
    )


def _print_stream_answer(data: dict[str, Any]) -> None:
    """A whole file's answer (a garak report): what became of its lines."""
    alerts = data.get("alerts") or []
    incidents = sorted({alert["incident_id"] for alert in alerts})
    acknowledged = sum((data.get("acknowledged") or {}).values())
    typer.echo(
        f"{data['lines']} lines: {len(alerts)} alerts accepted "
        f"({', '.join(incidents) or 'no incident'}), {acknowledged} acknowledged, "
        f"{len(data.get('refused') or [])} refused"
    )
    for refused in data.get("refused") or []:
        typer.secho(
            f"  line {refused['line']}: {refused['error']} "
            f"(dead letter {refused['dead_letter_id']})",
            err=True,
            fg=typer.colors.YELLOW,
        )


def _call(ctx: typer.Context, method: str, path: str, *, ok: int = 200, **kwargs: Any) -> Any:
    """Call the API; print the refusal and exit 1 unless it answers `ok`."""
    return call(_settings(ctx), method, path, ok=ok, **kwargs)


@alert_app.command("dead-letters")
def alert_dead_letters(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source's.")] = None,
    pending: Annotated[bool, typer.Option(help="Only those not yet replayed.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List alerts intake refused, newest first, with why."""
    params: dict[str, Any] = {"limit": limit, "pending": pending}
    if source is not None:
        params["source"] = source
    data = _call(ctx, "GET", "/api/v1/dead-letters", params=params)
    if as_json:
        print_json(data)
        return
    rows = [
        (
            item["id"],
            item["received_at"][:19].replace("T", " "),
            item["source"],
            item["reason"],
            "; ".join(f"{e['field']}: {e['message']}" for e in item["errors"])[:80],
            item["replay_alert_id"] or ("-" if item["replayed_at"] is None else "replayed"),
        )
        for item in data["items"]
    ]
    headers = ("id", "received (UTC)", "source", "reason", "fields", "replayed as")
    typer.echo(table(headers, rows))
    typer.echo(f"{len(rows)} of {data['total']} dead letters")


@alert_app.command("replay")
def alert_replay(
    ctx: typer.Context,
    dead_letter: Annotated[str, typer.Argument(help="Dead letter id.")],
    file: Annotated[
        str | None,
        typer.Option(
            "--file", help="A corrected payload (or - for stdin) instead of the stored one."
        ),
    ] = None,
) -> None:
    """Re-submit a dead letter (after fixing its cause or its payload)."""
    body: dict[str, Any] = {}
    if file is not None:
        body["body"] = _read_input(file).decode("utf-8")
    data = _call(ctx, "POST", f"/api/v1/dead-letters/{dead_letter}/replay", ok=202, json=body)
    verb = "joined" if data["deduplicated"] else "opened"
    typer.echo(
        f"dead letter {dead_letter} replayed as alert {data['alert_id']}: "
        f"{verb} incident {data['incident_id']}"
    )


@incidents_app.command("list")
def incidents_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="open, acknowledged, … closed")] = None,
    severity: Annotated[str | None, typer.Option()] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    playbook: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List incidents, newest first."""
    params = {
        key: value
        for key, value in {
            "status": status,
            "severity": severity,
            "kind": kind,
            "playbook": playbook,
            "limit": limit,
        }.items()
        if value is not None
    }
    data = _call(ctx, "GET", "/api/v1/incidents", params=params)
    if as_json:
        print_json(data)
        return
    rows = [
        (
            item["id"],
            item["severity"],
            item["status"],
            item["kind"],
            item["playbook"],
            item["alert_count"],
            item["opened_at"][:19].replace("T", " "),
            item["title"][:60],
        )
        for item in data["items"]
    ]
    headers = ("id", "severity", "status", "kind", "playbook", "alerts", "opened (UTC)", "title")
    typer.echo(table(headers, rows))
    typer.echo(f"{len(rows)} of {data['total']} incidents")


@incidents_app.command("show")
def incidents_show(
    ctx: typer.Context,
    incident: Annotated[str, typer.Argument(help="INC-YYYY-NNNN, number or fingerprint.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show one incident: its alerts and timeline."""
    data = _call(ctx, "GET", f"/api/v1/incidents/{incident}")
    if as_json:
        print_json(data)
        return
    typer.echo(f"{data['id']}  {data['title']}")
    for label, key in (
        ("severity", "severity"),
        ("status", "status"),
        ("kind", "kind"),
        ("playbook", "playbook"),
        ("alerts", "alert_count"),
        ("opened", "opened_at"),
        ("workflow", "workflow_id"),
        ("temporal ui", "temporal_ui_url"),
    ):
        if data.get(key) is not None:
            typer.echo(f"  {label:<12} {data[key]}")
    for label, key in (("OWASP", "owasp"), ("ATLAS", "atlas")):
        if data.get(key):
            typer.echo(f"  {label:<12} {', '.join(data[key])}")
    for label, key in (("target", "target"), ("principal", "principal")):
        if data.get(key):
            typer.echo(f"  {label:<12} {json.dumps(data[key], sort_keys=True)}")
    typer.echo("\nAlerts")
    typer.echo(
        table(
            ("received (UTC)", "id", "source", "kind", "severity", "duplicate", "title"),
            [
                (
                    a["received_at"][:19].replace("T", " "),
                    a["id"],
                    a["source"],
                    a["kind"],
                    a["severity"],
                    "yes" if a["deduplicated"] else "no",
                    a["title"],
                )
                for a in data["alerts"]
            ],
        )
    )
    typer.echo("\nTimeline")
    typer.echo(
        table(
            ("at (UTC)", "event", "actor", "message"),
            [
                (e["at"][:19].replace("T", " "), e["kind"], e["actor"], e["message"])
                for e in data["timeline"]
            ],
        )
    )


IncidentArg = Annotated[str, typer.Argument(help="INC-YYYY-NNNN, number or fingerprint.")]
ReasonOpt = Annotated[str, typer.Option(help="Why (goes on the timeline and audit log).")]


@incidents_app.command("report")
def incidents_report(
    ctx: typer.Context,
    incident: IncidentArg,
    fmt: Annotated[
        str, typer.Option("--format", help="md, html (printable, self-contained) or json.")
    ] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """The post-incident report (redacted): summary, taxonomy, actions, approvals, clocks,
    evidence, timeline and open follow-ups."""
    response = ApiClient(_settings(ctx)).request(
        "GET", f"/api/v1/incidents/{incident}/report", params={"format": fmt}
    )
    if response.status_code != 200:
        _print_rejection(response.status_code, _json(response))
        raise typer.Exit(1)
    if output is None:
        typer.echo(response.text, nl=False)
    else:
        output.write_text(response.text, encoding="utf-8")
        typer.echo(f"wrote {output}")


# `smokejumper report INC` is the same command, at the top level where the design names it.
app.command("report", help="The post-incident report (same as `incidents report`).")(
    incidents_report
)


def _act(ctx: typer.Context, path: str, body: dict[str, Any], ok: int = 200) -> Any:
    """POST an incident action; print the refusal and exit 1 unless the API says `ok`."""
    return _call(ctx, "POST", path, ok=ok, json=body)


@incidents_app.command("close")
def incidents_close(
    ctx: typer.Context,
    incident: IncidentArg,
    reason: ReasonOpt = "",
    lift_containment: Annotated[
        bool,
        typer.Option(
            "--lift-containment",
            help="A false positive: also undo the containment, once someone else approves "
            "step lift-containment.",
        ),
    ] = False,
) -> None:
    """Close an incident and stop its playbook (as this CLI's credential); says what
    stays in force."""
    data = _act(
        ctx,
        f"/api/v1/incidents/{incident}/close",
        {"reason": reason, "lift_containment": lift_containment},
    )
    typer.echo(close_confirmation(IncidentState.model_validate(data)))


@incidents_app.command("abort")
def incidents_abort(ctx: typer.Context, incident: IncidentArg, reason: ReasonOpt = "") -> None:
    """Stop the running playbook now and undo the steps it completed."""
    data = _act(ctx, f"/api/v1/incidents/{incident}/abort", {"reason": reason})
    undone = [step for step in data["steps_done"] if step.startswith("undo ")]
    typer.echo(f"playbook of {data['ref']} aborted; undone: {', '.join(undone) or 'nothing'}")


@incidents_app.command("restore")
def incidents_restore(ctx: typer.Context, incident: IncidentArg, reason: ReasonOpt = "") -> None:
    """Ask to undo a finished playbook's steps; someone else must approve step `restore`."""
    _act(ctx, f"/api/v1/incidents/{incident}/restore", {"reason": reason}, ok=202)
    typer.echo(
        f"restore of {incident} requested; waiting for approval of step 'restore' "
        f"(smokejumper approve {incident} restore)"
    )


@incidents_app.command("stop-clock")
def incidents_stop_clock(
    ctx: typer.Context,
    incident: IncidentArg,
    clock: Annotated[str, typer.Argument(help="Clock name, e.g. gdpr-art33.")],
    filed_at: Annotated[
        datetime, typer.Option(help="When the filing was made (ISO 8601, with a UTC offset).")
    ],
    reference: Annotated[str, typer.Option(help="Filing or case reference.")] = "",
) -> None:
    """Record the filing that stops a regulatory clock."""
    if filed_at.tzinfo is None:
        raise fail("--filed-at needs a UTC offset, e.g. 2026-11-30T14:02:00+00:00", 2)
    data = _act(
        ctx,
        f"/api/v1/incidents/{incident}/clocks/{clock}/stop",
        {"filed_at": filed_at.isoformat(), "reference": reference},
    )
    on_time = "on time" if data["filed_at"] <= data["deadline"] else "LATE"
    typer.echo(f"clock {data['name']} on {incident} stopped: filed {on_time}")


def _decide(
    ctx: typer.Context,
    incident: str,
    step: str,
    approve: bool,
    reason: str,
    choice: str | None = None,
) -> None:
    body: dict[str, object] = {"approve": approve, "reason": reason}
    if choice is not None:
        body["choice"] = choice
    data = _act(ctx, f"/api/v1/incidents/{incident}/approvals/{step}", body)
    decision = data.get("decision")
    verb = "approved" if approve else "denied"
    if decision is None:
        typer.echo(
            f"{verb} {step} on {incident}; waiting for {data['approvals_missing']} more approval(s)"
        )
    else:
        typer.echo(
            f"{step} on {incident}: {decision['outcome']} by {', '.join(decision['decided_by'])}"
        )


@app.command()
def approve(
    ctx: typer.Context,
    incident: IncidentArg,
    step: Annotated[str, typer.Argument(help="The step awaiting approval.")],
    reason: ReasonOpt = "",
) -> None:
    """Approve a pending step, as the identity of this CLI's credential."""
    _decide(ctx, incident, step, True, reason)


@app.command()
def deny(
    ctx: typer.Context,
    incident: IncidentArg,
    step: Annotated[str, typer.Argument(help="The step awaiting approval.")],
    reason: ReasonOpt = "",
) -> None:
    """Deny a pending step, as the identity of this CLI's credential."""
    _decide(ctx, incident, step, False, reason)


@app.command()
def done(
    ctx: typer.Context,
    incident: IncidentArg,
    step: Annotated[str, typer.Argument(help="The failed step's hand-off (`<step> failed`).")],
    note: Annotated[str, typer.Option("--note", help="What was done by hand (required).")],
) -> None:
    """Record that a failed step was done by hand (`approve` retries it, `deny` skips it)."""
    if not note.strip():
        raise fail("say what was done by hand: --note is required")
    _decide(ctx, incident, step, True, note, choice="done")


audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Walk the audit log's keyed chain and compare its end with the signed head checkpoint;
    exit 1 naming every edited, inserted or deleted row."""
    from smokejumper.store.audit import AuditKeyMissing, verify_chain
    from smokejumper.store.audit_key import AuditKeyError
    from smokejumper.store.db import Store
    from smokejumper.store.open import open_store

    settings = _settings(ctx)
    from integrations.evidence.checkpoints import head_checkpoints

    missing_key: AuditKeyError | None = None
    try:
        store = open_store(settings, head_checkpoints(settings), create_key=False)
    except AuditKeyError as exc:
        # No key yet: fine for a log of legacy rows only, which verify without it.
        missing_key = exc
        store = Store(settings.effective_database_url)
    try:
        report = verify_chain(store)
    except AuditKeyMissing:
        raise fail(str(missing_key), 2) from None
    except DBAPIError as exc:
        raise fail(
            f"cannot read the audit log ({type(exc.orig).__name__}); is the database "
            "reachable and migrated (`smokejumper db upgrade`)?",
            2,
        ) from None
    finally:
        store.dispose()
    if report.legacy_through is not None:
        typer.echo(
            f"legacy entries up to row {report.legacy_through}: unkeyed (written before the "
            "audit key), checked against their sha256 chain only"
        )
    for problem in report.problems:
        typer.secho(f"row {problem.entry_id}: {problem.problem}", err=True, fg=typer.colors.RED)
    if report.problems:
        raise typer.Exit(1)
    if missing_key is not None:
        tail = "no keyed rows yet (the audit key is made at the first append)"
    elif report.checkpoint is None:
        tail = "head checkpoint off (audit.checkpoint = false): deleted last rows not checked"
    else:
        tail = f"head matches the checkpoint at {report.checkpoint}"
    typer.echo(f"audit log intact: {report.count} rows, chain verified, {tail}")


def main() -> None:
    app()
