"""Case work on the demo's first incident — a commander, an assignee, a responder's task and
a note, written through the API as any client would — and what to try next: the CLI's case
commands, and an assistant connected through `smokejumper mcp` as the console user."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from workers.demo.engine import DemoApi
from workers.demo.examples import DemoError
from workers.demo.seed import CONSOLE_USER

NOTE = (
    "First look: checking whether other sessions of this principal saw the same data "
    "before any containment is lifted."
)
TASK = "Tell the application's owner and confirm nothing else leaked"
TASK_DUE_MINUTES = 60
# The file an MCP client (Claude Desktop, Cursor) takes as its server list.
MCP_CLIENT_FILE = "mcp-client.json"


@dataclass(frozen=True)
class Case:
    ref: str
    commander: str | None
    assignees: list[str]
    notes: int
    task_id: int
    task_state: str
    slas: list[dict[str, Any]]


def _body(response: httpx.Response, what: str) -> Any:
    if not response.is_success:
        raise DemoError(f"{what} was refused (HTTP {response.status_code}): {response.text[:300]}")
    return response.json()


def open_case(api: DemoApi, ref: str, assignee: str) -> Case:
    """The commander (the console user), `assignee`, a note and the task, unless the task is
    there: a resumed data directory keeps what the first run wrote, and what responders
    changed since (a commander cleared, a note added) is left as it is."""
    http, base = api.http, f"/api/v1/incidents/{ref}"
    tasks = _body(http.get(f"{base}/tasks"), f"the tasks of {ref}")
    task = next((t for t in tasks if t["title"] == TASK), None)
    if task is None:
        _body(http.put(f"{base}/commander", json={"user": CONSOLE_USER}), "the commander")
        _body(http.post(f"{base}/assignees", json={"user": assignee}), "the assignee")
        _body(http.post(f"{base}/notes", json={"text": NOTE}), "the note")
        body = {"title": TASK, "owner": CONSOLE_USER, "due_minutes": TASK_DUE_MINUTES}
        task = _body(http.post(f"{base}/tasks", json=body), "the task")
    record = _body(http.get(f"{base}/case"), f"the case record of {ref}")
    notes = _body(http.get(f"{base}/notes"), f"the notes of {ref}")
    slas = _body(http.get(f"{base}/slas"), f"the service levels of {ref}")
    return Case(
        ref,
        record["commander"],
        record["assignees"],
        len(notes),
        task["id"],
        task["state"],
        slas,
    )


def _sla(sla: dict[str, Any]) -> str:
    deadline = datetime.fromisoformat(sla["deadline"]).strftime("%H:%M UTC")
    state = sla["state"].replace("_", " ")
    return f"{sla['kind']} within {sla['target_minutes']} min, by {deadline} ({state})"


def case_lines(case: Case, cli: list[str]) -> list[str]:
    """What was written on the first incident, and the CLI commands to go on with it.
    `cli` is `smokejumper -c <the demo's config>`."""
    ref = case.ref
    severity = case.slas[0]["severity"] if case.slas else None
    slas = "; ".join(_sla(sla) for sla in case.slas) or "none configured"
    commands = [
        ["incidents", "note", ref, "Checked the other sessions: nothing else leaked"],
        ["incidents", "notes", ref],
        ["incidents", "assign", ref, CONSOLE_USER],
        ["tasks", "list", ref],
        ["tasks", "done", ref, str(case.task_id), "--note", "owner told"],
    ]
    return [
        f"Case work on {ref} (its console page shows it):",
        f"  commander {case.commander or 'none'}, assignees {', '.join(case.assignees) or 'none'}, "
        f"{case.notes} note{'' if case.notes == 1 else 's'}, "
        f"task {case.task_id} {case.task_state} for {CONSOLE_USER}",
        f"  SLA ({severity}): {slas}" if severity else f"  SLA: {slas}",
        *(f"      {shlex.join([*cli, *command])}" for command in commands),
    ]


def mcp_lines(cli: list[str], token_file: Path, data_dir: Path) -> list[str]:
    """How to connect an assistant as the console user: a shell line, and a client
    configuration file that reads the token from its 0600 file (never printed)."""
    token = f'SMOKEJUMPER_TOKEN="$(cat {shlex.quote(str(token_file))})"'
    executable = shutil.which("smokejumper") or str(Path(sys.executable).parent / "smokejumper")
    server = f"{token} exec {shlex.join([executable, *cli[1:], 'mcp'])}"
    client_file = data_dir / MCP_CLIENT_FILE
    client = {"mcpServers": {"smokejumper-demo": {"command": "/bin/sh", "args": ["-c", server]}}}
    client_file.write_text(json.dumps(client, indent=2) + "\n", encoding="utf-8")
    return [
        f"Assistants (MCP, as {CONSOLE_USER}; API token in {token_file}):",
        f"      {token} {shlex.join([*cli, 'mcp'])}",
        f"  Claude Desktop / Cursor: the mcpServers entry in {client_file} (see docs/mcp.md)",
    ]
