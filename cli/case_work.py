"""`smokejumper incidents assign|note|notes|tag|untag|link|merge`: case records through
the API (so its roles, checks and audit apply), recorded as done `via` cli."""

from __future__ import annotations

import sys
from typing import Annotated, Any
from urllib.parse import quote

import typer

from cli.api_client import call
from cli.output import fail, print_json, table
from smokejumper.config import Settings

IncidentArg = Annotated[str, typer.Argument(help="INC-YYYY-NNNN or number.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's answer as JSON.")]
_VIA = {"X-Smokejumper-Via": "cli"}


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.find_root().obj.settings
    return settings


def _path(incident: str, *rest: str) -> str:
    return "/".join(
        ["/api/v1/incidents", quote(incident, safe=""), *(quote(r, safe="") for r in rest)]
    )


def _show(record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(record)
        return
    typer.echo(f"{record['incident']}  ({record['status']})")
    typer.echo(f"  commander    {record['commander'] or 'none'}")
    typer.echo(f"  assignees    {', '.join(record['assignees']) or 'none'}")
    typer.echo(f"  tags         {', '.join(record['tags']) or 'none'}")
    for link in record["links"]:
        arrow = "→" if link["direction"] == "out" else "←"
        typer.echo(f"  linked       {arrow} {link['incident']} ({link['kind']})")
    if record["merged_into"]:
        typer.echo(f"  merged into  {record['merged_into']}")


def assign(
    ctx: typer.Context,
    incident: IncidentArg,
    user: Annotated[
        str | None, typer.Argument(help="The responder to assign (a user name).")
    ] = None,
    commander: Annotated[
        bool, typer.Option("--commander", help="Make USER the incident commander.")
    ] = False,
    clear_commander: Annotated[
        bool, typer.Option("--clear-commander", help="Leave the incident without commander.")
    ] = False,
    remove: Annotated[bool, typer.Option("--remove", help="Unassign USER.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Assign a responder, make one the commander, or undo either."""
    settings = _settings(ctx)
    if clear_commander:
        if user is not None or commander or remove:
            raise fail("--clear-commander takes no USER, --commander or --remove", 2)
        body: dict[str, Any] = {"user": None}
        _show(call(settings, "PUT", _path(incident, "commander"), json=body, headers=_VIA), as_json)
        return
    if user is None:
        raise fail("give USER (or --clear-commander)", 2)
    if commander and remove:
        raise fail("--commander and --remove do not go together", 2)
    if commander:
        path, method, body = _path(incident, "commander"), "PUT", {"user": user}
        _show(call(settings, method, path, json=body, headers=_VIA), as_json)
    elif remove:
        _show(call(settings, "DELETE", _path(incident, "assignees", user), headers=_VIA), as_json)
    else:
        path, body = _path(incident, "assignees"), {"user": user}
        _show(call(settings, "POST", path, json=body, headers=_VIA), as_json)


def note(
    ctx: typer.Context,
    incident: IncidentArg,
    text: Annotated[str, typer.Argument(help="The note; `-` reads it from standard input.")],
    as_json: JsonOpt = False,
) -> None:
    """Add a note to the incident (shown masked, kept as written)."""
    written = sys.stdin.read() if text == "-" else text
    data = call(
        _settings(ctx),
        "POST",
        _path(incident, "notes"),
        ok=201,
        json={"text": written},
        headers=_VIA,
    )
    if as_json:
        print_json(data)
        return
    typer.echo(f"note {data['id']} added to {incident} by {data['author']}")


def notes(ctx: typer.Context, incident: IncidentArg, as_json: JsonOpt = False) -> None:
    """The incident's notes, oldest first, with secrets and personal data masked."""
    data = call(_settings(ctx), "GET", _path(incident, "notes"))
    if as_json:
        print_json(data)
        return
    typer.echo(
        table(
            ["at (UTC)", "author", "via", "note"],
            [
                [n["created_at"][:19].replace("T", " "), n["author"], n["via"], n["text"]]
                for n in data
            ],
        )
    )


def tag(
    ctx: typer.Context,
    incident: IncidentArg,
    tags: Annotated[list[str], typer.Argument(help="One or more tags.")],
    as_json: JsonOpt = False,
) -> None:
    """Tag the incident."""
    record: dict[str, Any] = {}
    for value in tags:
        record = call(
            _settings(ctx), "POST", _path(incident, "tags"), json={"tag": value}, headers=_VIA
        )
    _show(record, as_json)


def untag(
    ctx: typer.Context,
    incident: IncidentArg,
    tags: Annotated[list[str], typer.Argument(help="One or more tags.")],
    as_json: JsonOpt = False,
) -> None:
    """Remove tags from the incident."""
    record: dict[str, Any] = {}
    for value in tags:
        record = call(_settings(ctx), "DELETE", _path(incident, "tags", value), headers=_VIA)
    _show(record, as_json)


def link(
    ctx: typer.Context,
    incident: IncidentArg,
    other: Annotated[str, typer.Argument(help="The incident to link it to.")],
    kind: Annotated[str, typer.Option(help="related, duplicate or caused_by.")] = "related",
    as_json: JsonOpt = False,
) -> None:
    """Link two incidents (shown on both)."""
    body = {"incident": other, "kind": kind}
    _show(call(_settings(ctx), "POST", _path(incident, "links"), json=body, headers=_VIA), as_json)


def merge(
    ctx: typer.Context,
    incident: IncidentArg,
    into: Annotated[str, typer.Option("--into", help="The incident to merge it into.")],
    as_json: JsonOpt = False,
) -> None:
    """Merge INCIDENT into another: its alerts, notes and tasks move, its playbook ends."""
    data = call(_settings(ctx), "POST", _path(incident, "merge"), json={"into": into}, headers=_VIA)
    if as_json:
        print_json(data)
        return
    typer.echo(
        f"{data['merged']} merged into {data['into']}: {data['alerts_moved']} alerts, "
        f"{data['notes_moved']} notes, {data['tasks_moved']} tasks moved; playbook "
        + ("ended" if data["playbook_ended"] else "was not running")
    )


def register(incidents_app: typer.Typer) -> None:
    for name, command in (
        ("assign", assign),
        ("note", note),
        ("notes", notes),
        ("tag", tag),
        ("untag", untag),
        ("link", link),
        ("merge", merge),
    ):
        incidents_app.command(name)(command)
