"""Slack down or rate limiting: containment goes on; messages follow when Slack answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from integrations.slack.emulator import SlackEmulator
from tests.helpers import eventually
from tests.slack.conftest import slack_engine
from tests.slack.planted import leaking_alert
from tests.slack.test_flow import messages, timeline

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_a_slack_outage_does_not_hold_containment(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    slack_emulator: SlackEmulator,
) -> None:
    emulator = slack_emulator
    # Cards go straight to the triage channel here (no incident channel).
    triage = f"CT{tmp_path.name[-8:].upper()}"
    async with slack_engine(
        tmp_path,
        database_url,
        temporal_env,
        emulator,
        incident_channels=False,
        triage_channel=triage,
    ) as engine:
        mark = emulator.mark()
        emulator.outage(True)
        try:
            response = await engine.http.post("/api/v1/alerts", json=leaking_alert())
            assert response.status_code == 202

            async def contained() -> list[object]:
                return timeline(engine, "step.completed")

            async def refused() -> list[object]:
                return [r for r in emulator.since(mark) if r.status == 503]

            # The key is revoked while every Slack call fails.
            await eventually(refused)
            await eventually(contained)
            assert messages(emulator, triage) == []
        finally:
            emulator.outage(False)

        async def card() -> list[dict[str, object]]:
            return [m for m in messages(emulator, triage) if "thread_ts" not in m]

        posted = await eventually(card, within=60)
        assert str(posted[0]["text"]).startswith("CRITICAL")


async def test_a_rate_limit_is_waited_out_as_slack_asks(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    slack_emulator: SlackEmulator,
) -> None:
    emulator = slack_emulator
    triage = f"CR{tmp_path.name[-8:].upper()}"
    async with slack_engine(
        tmp_path,
        database_url,
        temporal_env,
        emulator,
        incident_channels=False,
        triage_channel=triage,
    ) as engine:
        mark = emulator.mark()
        emulator.fail("chat.postMessage", 429, retry_after=3)
        response = await engine.http.post("/api/v1/alerts", json=leaking_alert())
        assert response.status_code == 202

        async def card() -> list[dict[str, object]]:
            return messages(emulator, triage)

        await eventually(card, within=30)
        posts = emulator.since(mark, "chat.postMessage")
        limited, retried = posts[0], posts[1]
        assert limited.status == 429 and retried.status == 200
        # Retried after the 3 s Slack asked for, not after the policy's 1 s backoff.
        assert retried.at - limited.at >= 3
