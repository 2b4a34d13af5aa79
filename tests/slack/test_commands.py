"""Deny with a reason (modal) and the `/smokejumper` slash command, on the dev server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from integrations.slack.emulator import SlackEmulator
from smokejumper.store.tables import Incident
from tests.engine import Engine
from tests.helpers import eventually
from tests.slack.conftest import (
    ALICE,
    BOB,
    CAROL,
    STRANGER,
    click,
    command,
    post_signed,
    signed,
    slack_engine,
    submit,
)
from tests.slack.test_flow import approval_message, ephemeral, open_incident, timeline

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
STEP = "revoke batch key"


async def slash(engine: Engine, text: str, user: str = ALICE) -> dict[str, Any]:
    response = await post_signed(engine.http, "/slack/commands", command(text, user))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def said(answer: dict[str, Any]) -> str:
    return json.dumps(answer["blocks"])


async def test_deny_asks_for_a_reason_and_commands_answer(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    slack_emulator: SlackEmulator,
) -> None:
    emulator = slack_emulator
    async with slack_engine(tmp_path, database_url, temporal_env, emulator) as engine:
        ref, channel = await open_incident(engine, emulator)
        approval = await approval_message(emulator, channel)

        listed = await slash(engine, "list")
        assert listed["response_type"] == "ephemeral" and ref in said(listed)
        status = await slash(engine, f"status {ref}")
        assert status["blocks"][0]["text"]["text"].startswith(ref)
        report = await slash(engine, f"report {ref}")
        assert f"/api/v1/incidents/{ref}/report" in said(report)
        assert "waiting on revoke batch key" in said(report)
        assert "Unknown command" in said(await slash(engine, "frobnicate"))
        assert "needs INCIDENT STEP REASON" in said(await slash(engine, f"deny {ref} x"))
        assert "no incident INC-1999-0001" in said(await slash(engine, "status INC-1999-0001"))

        body = command(f"ack {ref}", ALICE)
        forged = signed(body, secret="guessed")
        assert (
            await engine.http.post("/slack/commands", content=body, headers=forged)
        ).status_code == 401

        assert "not linked" in said(await slash(engine, f"ack {ref}", STRANGER))
        acked = await slash(engine, f"ack {ref}")
        assert acked["response_type"] == "in_channel" and f"<@{ALICE}>" in said(acked)
        with engine.store.session() as session:
            incident = session.scalars(select(Incident)).one()
            assert incident.status == "acknowledged" and incident.acknowledged_at is not None
        assert "already acknowledged" in said(await slash(engine, f"ack {ref}"))
        escalated = await slash(engine, f"escalate {ref}")
        assert escalated["response_type"] == "in_channel" and f"<@{CAROL}>" in said(escalated)

        # Deny opens a modal asking why; an empty reason is refused inside the modal.
        mark = emulator.mark()
        response = await post_signed(
            engine.http, "/slack/interactions", click(approval, channel, BOB, "deny")
        )
        assert response.status_code == 200

        async def modal() -> list[Any]:
            return emulator.since(mark, "views.open")

        view = (await eventually(modal))[0].params["view"]
        assert view["callback_id"] == "deny_reason"
        assert json.loads(view["private_metadata"]) == {
            "ref": ref,
            "step": STEP,
            "channel": channel,
        }
        empty = await post_signed(engine.http, "/slack/interactions", submit(view, BOB, "  "))
        assert empty.json() == {
            "response_action": "errors",
            "errors": {"reason": "Say why you deny."},
        }
        done = await post_signed(
            engine.http, "/slack/interactions", submit(view, BOB, "False positive: test data")
        )
        assert done.status_code == 200 and done.content == b""

        async def denied() -> list[Any]:
            return timeline(engine, "approval.denied")

        (decision,) = await eventually(denied)
        assert decision.actor == "bob"

        async def replaced() -> str | None:
            blocks = emulator.message(channel, approval["ts"])["blocks"]
            text = json.dumps(blocks)
            return text if all(b["type"] != "actions" for b in blocks) else None

        shown = await eventually(replaced)
        assert f"Denied by <@{BOB}>" in shown and "False positive: test data" in shown

        # The same step through the slash command: told it is decided.
        mark = emulator.mark()
        await slash(engine, f'approve {ref} "{STEP}"')
        assert "was already decided (denied)" in await ephemeral(emulator, mark, ALICE)
