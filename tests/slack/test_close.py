"""Closing an incident whose playbook waits on an approval posted in Slack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from integrations.slack.emulator import SlackEmulator
from tests.helpers import eventually
from tests.slack.conftest import slack_engine
from tests.slack.test_flow import approval_message, messages, open_incident


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_closing_withdraws_the_approval_card(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    slack_emulator: SlackEmulator,
) -> None:
    emulator = slack_emulator
    async with slack_engine(tmp_path, database_url, temporal_env, emulator) as engine:
        ref, channel = await open_incident(engine, emulator)
        approval = await approval_message(emulator, channel)
        assert any(block["type"] == "actions" for block in approval["blocks"])
        closed = await engine.http.post(
            f"/api/v1/incidents/{ref}/close", json={"reason": "handled by hand"}
        )
        assert closed.status_code == 200, closed.text

        # The buttons give way to the outcome, so nobody answers a closed incident.
        async def withdrawn() -> dict[str, Any] | None:
            now = emulator.message(channel, approval["ts"])
            return now if all(b["type"] != "actions" for b in now["blocks"]) else None

        card = await eventually(withdrawn)
        assert "Withdrawn: incident closed" in card["blocks"][1]["elements"][0]["text"]
        assert "withdrawn" in card["text"]

        async def stopped() -> list[dict[str, Any]]:
            return [
                m
                for m in messages(emulator, channel)
                if "Playbook stopped: incident closed" in m["text"]
            ]

        await eventually(stopped)
