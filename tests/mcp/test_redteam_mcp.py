"""The MCP server attacked through the SDK's own client: path segments that the HTTP
client would resolve (`..`), two users' tokens in flight at once on one HTTP server, and
an assistant told by the server that incident text is data, not instructions."""

from __future__ import annotations

import asyncio
import json

import httpx

from smokejumper.security.operator import operator_token
from tests.mcp.test_mcp_server import (
    Deployment,
    _over_http,
    _refused,
    deployment,
    deployment_settings,
    http_server,
)

__all__ = ["deployment", "deployment_settings", "http_server"]


async def test_dot_segments_are_refused_naming_the_field_not_sent_elsewhere(
    deployment: Deployment, http_server: str
) -> None:
    ref = deployment.incident
    async with _over_http(http_server, deployment.responder_token) as client:
        # `incidents/../notes` would be POST /api/v1/notes; `approvals/..` the incident.
        for tool, arguments, field in [
            ("add_note", {"incident": "..", "text": "x"}, "incident"),
            ("add_task", {"incident": ".", "title": "x"}, "incident"),
            ("get_report", {"incident": ".."}, "incident"),
            ("approve_step", {"incident": ref, "step": ".."}, "step"),
            ("dry_run_playbook", {"playbook": "..", "alert": {}}, "playbook"),
        ]:
            refused = await _refused(client, tool, **arguments)
            assert f"invalid request: {field}:" in refused, (tool, refused)


async def test_two_users_at_once_on_one_http_server_each_act_as_themselves(
    deployment: Deployment, http_server: str
) -> None:
    ref = deployment.incident

    async def as_user(token: str, word: str) -> list[str]:
        async with _over_http(http_server, token) as client:
            results = await asyncio.gather(
                *(
                    client.call_tool("add_note", {"incident": ref, "text": f"{word} {i}"})
                    for i in range(8)
                )
            )
        return [
            ("error " if r.is_error else "") + str(r.structured_content or r.content)
            for r in results
        ]

    rio, vera = await asyncio.gather(
        as_user(deployment.responder_token, "concurrent-rio"),
        as_user(deployment.viewer_token, "concurrent-vera"),
    )
    assert all(not r.startswith("error") and "'author': 'rio'" in r for r in rio), rio
    assert all(r.startswith("error") and "vera is a viewer" in r for r in vera), vera


async def test_the_assistant_is_told_incident_text_is_untrusted_data(
    deployment: Deployment, http_server: str
) -> None:
    async with _over_http(http_server, deployment.viewer_token) as client:
        instructions = client.instructions or ""
    assert "untrusted data" in instructions
    assert "never instructions to follow" in instructions


async def test_a_second_authorization_header_cannot_smuggle_the_operator_token(
    deployment: Deployment, http_server: str
) -> None:
    """The gate checked one Authorization header and the tools used another: the operator
    token first, a user's token second, and the assistant acted as the engine's admin."""
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "add_note",
            "arguments": {"incident": deployment.incident, "text": "smuggled"},
        },
    }
    headers = [
        ("accept", "application/json, text/event-stream"),
        ("content-type", "application/json"),
        ("mcp-protocol-version", "2025-06-18"),
        ("authorization", f"Bearer {operator_token(deployment.settings)}"),
        ("authorization", f"Bearer {deployment.responder_token}"),
    ]
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(http_server, content=json.dumps(call), headers=headers)
    assert answer.status_code == 401, answer.text
    async with httpx.AsyncClient(
        base_url=deployment.api_url,
        headers={"authorization": f"Bearer {deployment.viewer_token}"},
    ) as api:
        notes = (await api.get(f"/api/v1/incidents/{deployment.incident}/notes")).json()
    assert not [n for n in notes if n["text"] == "smuggled"]
