"""`smokejumper mcp` driven by the MCP SDK's own client, over stdio (the CLI spawned as a
subprocess, as Claude Desktop or Cursor start it) and over streamable HTTP (the CLI's
`--http` server in a subprocess), against a real API served by uvicorn over a migrated
store. The users are real accounts with API tokens; nothing in between is replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import pytest_asyncio
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app as cli_app
from integrations.evidence.checkpoints import head_checkpoints
from integrations.evidence.local import LocalEvidenceStore
from smokejumper.config import Settings
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import load_inventory
from smokejumper.security.operator import operator_token
from smokejumper.security.users import Role, add_user, issue_token
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.open import open_store
from smokejumper.store.tables import AuditEntry, EvidenceItem, Incident
from tests.engine import serve_api
from tests.helpers import free_port, make_settings
from tests.inventory.helpers import example_data

REPO = Path(__file__).resolve().parents[2]
# A leaked key, as a DLP scanner reports it: in the alert's title and evidence, and in an
# evidence preview an older redactor stored without masking it.
SECRET = "sk-proj-Zt8QmV3xK9pL2wR7nB4yC6dF1gH5jA0sE2uI8oP3"
AWS_KEY_ID = "AKIAZ7QXMPL3EXAMPLE9"
TOOLS = {
    "list_incidents",
    "get_incident",
    "get_timeline",
    "get_evidence_previews",
    "get_report",
    "blast_radius",
    "dry_run_playbook",
    "add_note",
    "add_task",
    "propose_action",
    "approve_step",
}


@dataclass
class Deployment:
    settings: Settings
    store: Store
    api_url: str
    incident: str
    viewer_token: str
    responder_token: str


@pytest.fixture(scope="module")
def deployment_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("mcp")
    url = f"sqlite:///{tmp / 'smokejumper.db'}"
    upgrade(url)
    # Temporal is not running: the API reads and writes the store; an alert's playbook
    # start waits in the outbox.
    return make_settings(tmp, url, f"127.0.0.1:{free_port()}")


@pytest_asyncio.fixture(scope="module")
async def deployment(deployment_settings: Settings) -> AsyncIterator[Deployment]:
    settings = deployment_settings
    store = open_store(settings, head_checkpoints(settings))
    try:
        async with serve_api(settings, store):
            viewer, responder = _users(store)
            import_inventory(store, load_inventory(_inventory()))
            incident = await _leaky_incident(settings, store)
            yield Deployment(settings, store, settings.api_url, incident, viewer, responder)
    finally:
        store.dispose()


def _inventory() -> dict[str, Any]:
    """The example inventory, and an AWS key of the application's: a credential id, which
    every view masks."""
    data = example_data()
    data["api_keys"].append(
        {"key_id": AWS_KEY_ID, "provider": "aws_iam", "application": "support-bot"}
    )
    return data


def _users(store: Store) -> tuple[str, str]:
    with store.transaction() as session:
        _, viewer = issue_token(session, add_user(session, "vera", Role.VIEWER, None), "mcp")
        _, responder = issue_token(session, add_user(session, "rio", Role.RESPONDER, None), "mcp")
    return viewer, responder


async def _leaky_incident(settings: Settings, store: Store) -> str:
    alert = {
        "source": "llm-guard",
        "kind": "data_leakage",
        "severity": "high",
        "title": f"API key {SECRET} in support-bot output",
        "principal": {"user": "u-1842"},
        "target": {"application": "support-bot", "endpoint": "support-bot-prod"},
        "evidence": {"response": f"Sure, the key is {SECRET}."},
    }
    async with httpx.AsyncClient(base_url=settings.api_url) as http:
        sent = await http.post(
            "/api/v1/alerts",
            json=alert,
            headers={"authorization": f"Bearer {operator_token(settings)}"},
        )
    assert sent.status_code == 202, sent.text
    ref: str = sent.json()["incident_id"]
    data = f"model output: {SECRET}".encode()
    digest = hashlib.sha256(data).hexdigest()
    uri = LocalEvidenceStore(settings.evidence_directory).put(digest, data)
    with store.transaction() as session:
        incident = session.scalars(select(Incident).where(Incident.ref == ref)).one()
        session.add(
            EvidenceItem(
                incident_id=incident.id,
                name="model-output",
                kind="text",
                sha256=digest,
                size=len(data),
                uri=uri,
                redacted_preview=f"model output: {SECRET}",
                captured_by="playbook",
                evidence_key=uuid.uuid4().hex,
            )
        )
    return ref


def _env(**extra: str) -> dict[str, str]:
    # The server process gets no SMOKEJUMPER_* of the test runner's, only what is given.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMOKEJUMPER_")}
    return {**env, **extra}


def _stdio(api_url: str, token: str) -> Client:
    return Client(
        StdioServerParameters(
            command=sys.executable,
            args=["-m", "cli", "mcp", "--api-url", api_url],
            env=_env(SMOKEJUMPER_TOKEN=token),
            cwd=REPO,
        )
    )


def _text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    """A tool call; whatever it answers, no leaked key is in it, in clear or in part."""
    result = await client.call_tool(tool, arguments)
    answer = _text(result) + json.dumps(result.structured_content)
    for leaked in (SECRET, SECRET[8:24], AWS_KEY_ID):
        assert leaked not in answer, (tool, answer)
    return result


async def _ok(client: Client, tool: str, **arguments: Any) -> Any:
    result = await _call(client, tool, arguments)
    assert not result.is_error, _text(result)
    text = _text(result)
    return json.loads(text) if tool != "get_report" else text


async def _refused(client: Client, tool: str, **arguments: Any) -> str:
    result = await _call(client, tool, arguments)
    assert result.is_error, _text(result)
    return _text(result)


def _audit(store: Store, action: str) -> list[AuditEntry]:
    with store.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_stdio_viewer_reads_everything_masked_and_writes_nothing(
    deployment: Deployment,
) -> None:
    ref = deployment.incident
    async with _stdio(deployment.api_url, deployment.viewer_token) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert tools == TOOLS

        outputs: list[str] = []
        page = await _ok(client, "list_incidents", kind="data_leakage")
        assert [item["id"] for item in page["items"]] == [ref]
        assert (await _ok(client, "list_incidents", status="closed"))["items"] == []
        detail = await _ok(client, "get_incident", incident=ref)
        assert detail["title"].startswith("API key sk-proj-")
        timeline = await _ok(client, "get_timeline", incident=ref)
        assert timeline["incident"] == ref and timeline["timeline"]
        evidence = await _ok(client, "get_evidence_previews", incident=ref)
        [item] = evidence["evidence"]
        assert item["name"] == "model-output"
        assert item["redacted_preview"].startswith("model output: sk-proj-")
        report = await _ok(client, "get_report", incident=ref)
        assert ref in report
        radius = await _ok(client, "blast_radius", target="endpoint:support-bot-prod")
        assert "support-llm@1.1.0" in radius["model_versions"]
        assert "AKIA…PLE9" in radius["keys"] and "key-support-web" in radius["keys"]
        assert AWS_KEY_ID not in json.dumps(radius)
        outputs += [json.dumps(x) for x in (page, detail, timeline, evidence, radius)]
        outputs.append(report)
        for output in outputs:
            assert SECRET not in output
            assert SECRET[8:24] not in output

        # A viewer's token reads; writing takes a responder, as through the API.
        refused = await _refused(client, "add_note", incident=ref, text="looks like a leak")
        assert "HTTP 403" in refused and "vera is a viewer" in refused
        assert "HTTP 404" in await _refused(client, "get_incident", incident="INC-1999-0001")
        bad = await _refused(client, "blast_radius", target="galaxy:far-away")
        assert "HTTP 422" in bad and "target" in bad

        # Approving is refused whatever the role, and the attempt is on the record.
        denied = await _refused(client, "approve_step", incident=ref, step="revoke-key")
        assert "approval refused: via mcp" in denied
    [entry] = [e for e in _audit(deployment.store, "approval.refused") if e.actor == "vera"]
    assert entry.subject == ref
    assert entry.data == {
        "step": "revoke-key",
        "via": "mcp",
        "reason": "approval refused: via mcp",
    }


def test_stdio_without_a_token_does_not_start(deployment: Deployment) -> None:
    # The running API's operator token (serving it creates it), whichever test ran first.
    deployment_settings = deployment.settings
    done = CliRunner().invoke(cli_app, ["mcp", "--api-url", deployment_settings.api_url])
    assert done.exit_code == 2
    assert "SMOKEJUMPER_TOKEN is not set" in done.stderr
    assert done.stdout == ""
    operator = CliRunner().invoke(
        cli_app,
        ["mcp", "--api-url", deployment_settings.api_url],
        env=_env(SMOKEJUMPER_TOKEN=operator_token(deployment_settings)),
    )
    assert operator.exit_code == 2
    assert "not the operator token" in operator.stderr
    bad = CliRunner().invoke(
        cli_app, ["mcp", "--api-url", "localhost:8000"], env=_env(SMOKEJUMPER_TOKEN="sjt_x")
    )
    assert bad.exit_code == 2
    assert "--api-url must be an http:// or https:// URL" in bad.stderr


@pytest.fixture(scope="module")
def http_server(deployment_settings: Settings) -> Iterator[str]:
    """`smokejumper mcp --http` in its own process; yields its MCP endpoint."""
    port, api = free_port(), deployment_settings.api_url
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "mcp", "--http", "--port", str(port), "--api-url", api],
        env=_env(),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    assert process.stderr is not None
                    raise AssertionError(process.stderr.read().decode()) from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _over_http(url: str, token: str) -> Client:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=120)
    return Client(streamable_http_client(url, http_client=http))


async def test_http_refuses_requests_without_a_valid_token(
    deployment: Deployment, http_server: str
) -> None:
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/list",
        "params": {},
    }
    headers = {"accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=10) as http:
        bare = await http.post(http_server, json=hello, headers=headers)
        assert bare.status_code == 401
        assert bare.headers["www-authenticate"] == "Bearer"
        forged = await http.post(
            http_server, json=hello, headers={**headers, "authorization": "Bearer sjt_forged"}
        )
        assert forged.status_code == 401
        assert "did not accept" in forged.json()["error"]
        # The engine's admin credential is no user's: an assistant never acts as it.
        operator = f"Bearer {operator_token(deployment.settings)}"
        admin = await http.post(
            http_server, json=hello, headers={**headers, "authorization": operator}
        )
        assert admin.status_code == 401
    # The SDK's client gets an error response, not the tool list.
    with pytest.raises(ExceptionGroup) as refused:
        async with _over_http(http_server, "sjt_forged") as client:
            await client.list_tools()
    assert refused.group_contains(MCPError, match="error response", depth=2)


async def test_http_responder_writes_as_themselves_via_mcp_but_cannot_approve(
    deployment: Deployment, http_server: str
) -> None:
    ref = deployment.incident
    async with _over_http(http_server, deployment.responder_token) as client:
        note = await _ok(client, "add_note", incident=ref, text="Rotated? Check the key owner.")
        assert (note["author"], note["via"]) == ("rio", "mcp")
        task = await _ok(client, "add_task", incident=ref, title="Find the key's owner")
        assert (task["created_by"], task["via"], task["state"]) == ("rio", "mcp", "open")
        proposal = await _ok(
            client,
            "propose_action",
            incident=ref,
            action="Revoke the leaked key",
            rationale="It appears in the model's output.",
        )
        assert proposal["task"]["title"] == "Proposed: Revoke the leaked key"
        denied = await _refused(client, "approve_step", incident=ref, step="revoke-key")
        assert "approval refused: via mcp" in denied
        denied = await _refused(client, "approve_step", incident=ref, step="x", approve=False)
        assert "approval refused: via mcp" in denied
    # The same token, another request: the viewer's token on the same server stays a viewer.
    async with _over_http(http_server, deployment.viewer_token) as client:
        assert "HTTP 403" in await _refused(client, "add_note", incident=ref, text="hi")

    async with httpx.AsyncClient(
        base_url=deployment.api_url,
        headers={"authorization": f"Bearer {deployment.viewer_token}"},
    ) as api:
        notes = (await api.get(f"/api/v1/incidents/{ref}/notes")).json()
        tasks = (await api.get(f"/api/v1/incidents/{ref}/tasks")).json()
    assert [(n["author"], n["via"], n["text"]) for n in notes] == [
        ("rio", "mcp", "Rotated? Check the key owner."),
        (
            "rio",
            "mcp",
            "Proposed action: Revoke the leaked key\n\nWhy: It appears in the model's output.",
        ),
    ]
    assert [(t["title"], t["via"], t["state"]) for t in tasks] == [
        ("Find the key's owner", "mcp", "open"),
        ("Proposed: Revoke the leaked key", "mcp", "open"),
    ]
    refusals = [e for e in _audit(deployment.store, "approval.refused") if e.actor == "rio"]
    assert [e.data["step"] for e in refusals] == ["revoke-key", "x"]
    assert not _audit(deployment.store, "approval.approved")


async def test_dry_run_rehearses_for_a_responder_with_keys_masked(
    deployment: Deployment, http_server: str
) -> None:
    alert = json.loads((REPO / "examples" / "alerts" / "data_leakage.json").read_text())
    leaked = "AKIAIOSFODNN7EXAMPLE"
    assert leaked in json.dumps(alert)
    arguments = {"playbook": "sensitive-data-leakage", "alert": alert, "approve": "none"}
    async with _over_http(http_server, deployment.responder_token) as client:
        plan = await _ok(client, "dry_run_playbook", **arguments)
        unknown = await _refused(client, "dry_run_playbook", **{**arguments, "playbook": "nope"})
        invalid = await _refused(client, "dry_run_playbook", **{**arguments, "alert": {}})
    assert plan["outcome"] == "finished"
    assert "revoke key AKIA…MPLE" in [entry["name"] for entry in plan["plan"]]
    assert leaked not in json.dumps(plan)
    assert "HTTP 404" in unknown and "no playbook named 'nope'" in unknown
    assert "HTTP 422" in invalid and "alert.kind: Field required" in invalid
    async with _over_http(http_server, deployment.viewer_token) as client:
        refused = await _refused(client, "dry_run_playbook", **arguments)
    assert "HTTP 403" in refused and "responder" in refused
