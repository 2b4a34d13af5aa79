"""`smokejumper tasks list|add|done` and `smokejumper incidents ack`: an incident's tasks
and acknowledging it, through the API (so roles, the timeline and the audit log apply;
recorded as made `via cli`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.api_client import call
from cli.output import print_json, table
from smokejumper.config import Settings

tasks_app = typer.Typer(help="An incident's tasks: list, add, mark done.", no_args_is_help=True)

IncidentArg = Annotated[str, typer.Argument(help="INC-YYYY-NNNN or number.")]
JsonOpt = Annotated[bool, typer.Option("--json")]
VIA_CLI = {"X-Smokejumper-Via": "cli"}


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.find_root().obj.settings
    return settings


def _row(task: dict[str, Any]) -> list[Any]:
    state = task["state"] + (" (overdue)" if task["overdue"] else "")
    return [task["id"], state, task["owner"], task["due_at"], task["completed_by"], task["title"]]


@tasks_app.command("list")
def tasks_list(
    ctx: typer.Context,
    incident: IncidentArg,
    open_only: Annotated[bool, typer.Option("--open", help="Only the open ones.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The incident's tasks, oldest first."""
    params = {"state": "open"} if open_only else {}
    data = call(_settings(ctx), "GET", f"/api/v1/incidents/{incident}/tasks", params=params)
    if as_json:
        print_json(data)
        return
    typer.echo(
        table(["task", "state", "owner", "due", "done by", "title"], [_row(t) for t in data])
    )


@tasks_app.command("add")
def tasks_add(
    ctx: typer.Context,
    incident: IncidentArg,
    title: Annotated[str, typer.Argument(help="What is to be done.")],
    owner: Annotated[str | None, typer.Option(help="Who does it.")] = None,
    due_minutes: Annotated[int | None, typer.Option(help="Due in this many minutes.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a task to the incident."""
    body = {"title": title, "owner": owner, "due_minutes": due_minutes}
    data = call(
        _settings(ctx),
        "POST",
        f"/api/v1/incidents/{incident}/tasks",
        ok=201,
        json=body,
        headers=VIA_CLI,
    )
    if as_json:
        print_json(data)
        return
    typer.echo(f"task {data['id']} added to {incident}: {data['title']}")


@tasks_app.command("done")
def tasks_done(
    ctx: typer.Context,
    incident: IncidentArg,
    task: Annotated[int, typer.Argument(help="The task's id (`smokejumper tasks list`).")],
    note: Annotated[str | None, typer.Option(help="What was done.")] = None,
) -> None:
    """Mark a task done; a playbook waiting for it goes on."""
    call(
        _settings(ctx),
        "POST",
        f"/api/v1/incidents/{incident}/tasks/{task}/complete",
        json={"note": note},
        headers=VIA_CLI,
    )
    typer.echo(f"task {task} of {incident} done")


def acknowledge(ctx: typer.Context, incident: IncidentArg) -> None:
    """Acknowledge an open incident (meets its time-to-acknowledge target)."""
    data = call(
        _settings(ctx), "POST", f"/api/v1/incidents/{incident}/acknowledge", headers=VIA_CLI
    )
    typer.echo(f"{data['incident']} acknowledged by {data['acknowledged_by']}")
