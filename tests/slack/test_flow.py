"""A whole incident run from Slack, on the real Temporal dev server, with Slack emulated.

Alert → triage notice, incident channel (invite, topic), card → the containment step
updates the card and posts in its thread → the approval message → signed clicks: forged,
stale, replayed and unauthorised ones refused, the approver's click resumes the playbook
and replaces the buttons → a second click is told the step is decided.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from integrations.slack.emulator import SlackEmulator
from smokejumper.store.tables import Incident, TimelineEvent
from tests.engine import Engine
from tests.helpers import eventually
from tests.slack.conftest import (
    ALICE,
    BOB,
    CAROL,
    STRANGER,
    click,
    post_signed,
    signed,
    slack_engine,
)
from tests.slack.planted import leaking_alert


async def open_incident(engine: Engine, emulator: SlackEmulator) -> tuple[str, str]:
    """Send the planted alert; returns the incident ref and its Slack channel id."""
    response = await engine.http.post("/api/v1/alerts", json=leaking_alert())
    assert response.status_code == 202, response.text

    def incident() -> Incident | None:
        with engine.store.session() as session:
            return session.scalars(select(Incident)).first()

    async def created() -> Incident | None:
        return incident()

    ref = str((await eventually(created)).ref)
    prefix = engine.settings.slack.channel_prefix

    async def channel() -> str | None:
        for channel_id, info in emulator.channels.items():
            if info["name"].startswith(prefix):
                return channel_id
        return None

    found = await eventually(channel)

    async def card_posted() -> bool:
        return any(m["text"].startswith("CRITICAL") for m in messages(emulator, found))

    await eventually(card_posted)
    return ref, found


def messages(emulator: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    return list(emulator.messages.get(channel, {}).values())


async def approval_message(emulator: SlackEmulator, channel: str) -> dict[str, Any]:
    async def find() -> dict[str, Any] | None:
        return next(
            (
                m
                for m in messages(emulator, channel)
                if "Approval needed" in m["text"] and "thread_ts" not in m
            ),
            None,
        )

    # A copy: what the responder's client shows, while the emulator's is updated in place.
    return copy.deepcopy(await eventually(find))


def ephemerals(emulator: SlackEmulator, mark: int, user: str) -> list[str]:
    return [
        str(r.params.get("text"))
        for r in emulator.since(mark, "chat.postEphemeral")
        if r.params.get("user") == user
    ]


async def ephemeral(emulator: SlackEmulator, mark: int, user: str) -> str:
    async def said() -> str | None:
        found = ephemerals(emulator, mark, user)
        return found[-1] if found else None

    return await eventually(said)


def timeline(engine: Engine, kind: str) -> list[TimelineEvent]:
    with engine.store.session() as session:
        return list(session.scalars(select(TimelineEvent).where(TimelineEvent.kind == kind)))


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_incident_run_from_slack(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    slack_emulator: SlackEmulator,
) -> None:
    emulator = slack_emulator
    async with slack_engine(tmp_path, database_url, temporal_env, emulator) as engine:
        mark = emulator.mark()
        ref, channel = await open_incident(engine, emulator)
        info = emulator.channels[channel]
        number = ref.split("-", 1)[1].lower()
        assert info["name"] == f"{engine.settings.slack.channel_prefix}-{number}-data_leakage"
        assert sorted(info["members"]) == [ALICE, BOB]
        assert "CRITICAL data_leakage" in info["topic"]

        # The triage channel is told where the incident lives.
        async def triage() -> list[dict[str, Any]]:
            return messages(emulator, "CTRIAGE01")

        notice = (await eventually(triage))[-1]
        assert ref in notice["text"] and f"<#{channel}>" in notice["blocks"][0]["text"]["text"]

        # The card: posted once, then updated in place as the containment step completes.
        card = messages(emulator, channel)[0]
        assert card["blocks"][0]["text"]["text"].startswith(ref)
        fields = " ".join(f["text"] for f in card["blocks"][1]["fields"])
        assert "CRITICAL" in fields and "LLM02" in fields and "AML.T0057" in fields
        assert "endpoint support-chat-prod" in fields
        # Personal data and keys are masked, never shown whole.
        assert "j…@….com" in fields and "sk-proj-…5uQi" in card["text"]
        assert "/incidents/" + ref in card["blocks"][2]["text"]["text"]

        async def card_shows_step_done() -> bool:
            steps = emulator.message(channel, card["ts"])["blocks"][3]["text"]["text"]
            return "revoke key: done" in steps

        await eventually(card_shows_step_done)

        async def threaded() -> list[dict[str, Any]]:
            replies = [m for m in messages(emulator, channel) if m.get("thread_ts") == card["ts"]]
            return [m for m in replies if "Step revoke key completed" in m["text"]]

        await eventually(threaded)

        approval = await approval_message(emulator, channel)
        assert "Revoke the batch job's key too?" in approval["blocks"][0]["text"]["text"]
        assert "Nightly exports stop" in approval["blocks"][1]["elements"][0]["text"]
        assert f"<@{ALICE}>" in approval["blocks"][2]["elements"][0]["text"]

        # Forged, stale and unsigned clicks are refused before anything is read.
        body = click(approval, channel, ALICE, "approve")
        forged = signed(body, secret="not-the-signing-secret")
        assert (
            await engine.http.post("/slack/interactions", content=body, headers=forged)
        ).status_code == 401
        stale = signed(body, timestamp=int(time.time()) - 600)
        assert (
            await engine.http.post("/slack/interactions", content=body, headers=stale)
        ).status_code == 401
        response = await engine.http.post("/slack/interactions", content=body)
        assert response.status_code == 401
        assert "x-slack-signature" in response.json()["detail"]
        tampered = signed(body)
        response = await engine.http.post(
            "/slack/interactions", content=body.replace("approve", "deny"), headers=tampered
        )
        assert response.status_code == 401

        # Someone who is not a responder, and a responder who is not an approver.
        mark = emulator.mark()
        assert (
            await post_signed(
                engine.http, "/slack/interactions", click(approval, channel, STRANGER, "approve")
            )
        ).status_code == 200
        assert "not linked to a responder" in await ephemeral(emulator, mark, STRANGER)
        assert (
            await post_signed(
                engine.http, "/slack/interactions", click(approval, channel, CAROL, "approve")
            )
        ).status_code == 200
        assert "carol is not an approver for step" in await ephemeral(emulator, mark, CAROL)
        assert not timeline(engine, "approval.approved")

        # The approver's click: answered at once, the playbook resumes.
        headers = signed(body)
        started = time.monotonic()
        response = await engine.http.post("/slack/interactions", content=body, headers=headers)
        assert response.status_code == 200
        acknowledged_in = time.monotonic() - started

        async def resumed() -> list[TimelineEvent]:
            return [e for e in timeline(engine, "step.completed") if e.step == "revoke batch key"]

        await eventually(resumed)

        async def decided_on_timeline() -> list[TimelineEvent]:
            # The decision's entry is written just after the playbook has resumed.
            return timeline(engine, "approval.approved")

        (decided,) = await eventually(decided_on_timeline)
        assert decided.actor == "alice"

        # The buttons are replaced, so nobody can click twice.
        async def replaced() -> dict[str, Any] | None:
            now = emulator.message(channel, approval["ts"])
            return now if all(b["type"] != "actions" for b in now["blocks"]) else None

        updated = await replaced_message(replaced)
        assert f"Approved by <@{ALICE}> at " in updated["blocks"][1]["elements"][0]["text"]

        # A replay of the accepted request is refused; a second click is told why.
        replay = await engine.http.post("/slack/interactions", content=body, headers=headers)
        assert replay.status_code == 401
        assert "already received" in replay.json()["detail"]
        mark = emulator.mark()
        second = click(approval, channel, BOB, "approve")
        assert (await post_signed(engine.http, "/slack/interactions", second)).status_code == 200
        assert "was already decided (approved)" in await ephemeral(emulator, mark, BOB)

        # The notification at the end goes to the channel, mentioning the responders.
        async def announced() -> list[dict[str, Any]]:
            return [m for m in messages(emulator, channel) if "Containment finished" in m["text"]]

        (notification,) = await eventually(announced)
        assert f"<@{ALICE}>" in notification["blocks"][0]["text"]["text"]
        # Slack's limit is 3 s; the click was answered without waiting for the workflow.
        assert acknowledged_in < 3


async def replaced_message(probe: Any) -> dict[str, Any]:
    found: dict[str, Any] = await eventually(probe)
    return found
