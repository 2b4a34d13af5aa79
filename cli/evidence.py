"""`smokejumper evidence holds|hold|release|purge`: legal holds and the deletion of an
incident's evidence, through the API (so the API's roles and audit apply)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.api_client import call
from cli.output import print_json, table
from smokejumper.config import Settings

evidence_app = typer.Typer(
    help="Legal holds on evidence, and purging an incident's evidence.", no_args_is_help=True
)

IncidentArg = Annotated[str, typer.Argument(help="INC-YYYY-NNNN or number.")]
ReasonOpt = Annotated[str, typer.Option(help="Why (goes on the audit log).")]


def _settings(ctx: typer.Context) -> Settings:
    # The root command's context object loads the configuration once.
    settings: Settings = ctx.find_root().obj.settings
    return settings


def _hold_row(hold: dict[str, Any]) -> list[Any]:
    return [
        hold["id"],
        hold["evidence_id"] or "all",
        "released" if hold["released_at"] else "held",
        hold["placed_by"],
        hold["placed_at"],
        hold["reason"],
    ]


@evidence_app.command("holds")
def holds(
    ctx: typer.Context,
    incident: IncidentArg,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The incident's legal holds, released ones included."""
    data = call(_settings(ctx), "GET", f"/api/v1/incidents/{incident}/legal-holds")
    if as_json:
        print_json(data)
        return
    typer.echo(
        table(["hold", "evidence", "state", "by", "at", "reason"], [_hold_row(h) for h in data])
    )


@evidence_app.command("hold")
def hold(
    ctx: typer.Context,
    incident: IncidentArg,
    reason: ReasonOpt,
    evidence: Annotated[
        int | None, typer.Option(help="One evidence item's id; unset: all of the incident's.")
    ] = None,
) -> None:
    """Put evidence on legal hold: retention and purges leave it alone until released."""
    body: dict[str, Any] = {"reason": reason, "evidence_id": evidence}
    data = call(
        _settings(ctx), "POST", f"/api/v1/incidents/{incident}/legal-holds", ok=201, json=body
    )
    what = f"evidence {data['evidence_id']}" if data["evidence_id"] else "all evidence"
    typer.echo(f"legal hold {data['id']} on {what} of {incident}")


@evidence_app.command("release")
def release(ctx: typer.Context, incident: IncidentArg, hold_id: int, reason: ReasonOpt) -> None:
    """Release a legal hold (admins)."""
    call(
        _settings(ctx),
        "POST",
        f"/api/v1/incidents/{incident}/legal-holds/{hold_id}/release",
        json={"reason": reason},
    )
    typer.echo(f"legal hold {hold_id} on {incident} released")


@evidence_app.command("purge")
def purge(ctx: typer.Context, incident: IncidentArg, reason: ReasonOpt) -> None:
    """Delete every evidence item of the incident (admins); refused, deleting nothing,
    while any of it is on legal hold."""
    data = call(
        _settings(ctx),
        "POST",
        f"/api/v1/incidents/{incident}/evidence/purge",
        json={"reason": reason},
    )
    typer.echo(f"{data['deleted']} evidence item(s) of {incident} deleted")
    for problem in data["object_errors"]:
        typer.secho(f"  not removed from the store: {problem}", err=True, fg=typer.colors.YELLOW)
