"""Socket Mode: the worker's websocket client gets the same clicks and commands.

The emulator serves `apps.connections.open` and the websocket it names, sending envelopes
the way Slack does and waiting for the client's acknowledgement.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from temporalio.testing import WorkflowEnvironment

from integrations.slack.emulator import SlackEmulator
from tests.helpers import eventually
from tests.slack.conftest import ALICE, click, command, slack_engine
from tests.slack.test_flow import approval_message, open_incident, timeline
from workers.worker import start_socket_mode

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def payload_of(form_body: str) -> dict[str, object]:
    return dict(json.loads(parse_qs(form_body)["payload"][0]))


async def test_buttons_and_commands_over_socket_mode(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    slack_emulator: SlackEmulator,
) -> None:
    emulator = slack_emulator
    async with slack_engine(
        tmp_path, database_url, temporal_env, emulator, socket_mode=True
    ) as engine:
        mark = emulator.mark()
        runner = await start_socket_mode(engine.settings, engine.store, engine.client)
        assert runner is not None
        try:
            assert emulator.since(mark, "apps.connections.open")
            ref, channel = await open_incident(engine, emulator)

            form = {k: v[0] for k, v in parse_qs(command(f"status {ref}", ALICE)).items()}
            ack = await asyncio.to_thread(emulator.socket_request, "slash_commands", form)
            assert ack["payload"]["blocks"][0]["text"]["text"].startswith(ref)

            approval = await approval_message(emulator, channel)
            clicked = payload_of(click(approval, channel, ALICE, "approve"))
            ack = await asyncio.to_thread(emulator.socket_request, "interactive", clicked)
            assert "envelope_id" in ack

            async def approved() -> list[object]:
                return timeline(engine, "approval.approved")

            (decision,) = await eventually(approved)
            assert decision.actor == "alice"
        finally:
            await runner.stop()
