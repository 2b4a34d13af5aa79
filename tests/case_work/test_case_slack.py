"""Case work from Slack, on the Web API emulator and the dev server: `/smokejumper assign`
and `note`, and messages in an incident's thread or channel captured as notes of the
responder who wrote them (bots, edits and unlinked users not)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from integrations.slack.emulator import SlackEmulator
from smokejumper.app import create_app
from smokejumper.config import load_settings
from smokejumper.store.tables import Incident, IncidentNote
from tests.engine import Engine
from tests.helpers import eventually
from tests.slack.conftest import (
    ALICE,
    BOB,
    STRANGER,
    USERS,
    command,
    post_signed,
    scanned_emulator,
    signed,
    slack_engine,
)
from tests.slack.planted import PLANTED
from tests.slack.test_flow import open_incident
from tests.slack.test_manifest import MANIFEST
from workers.worker import start_socket_mode

ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def slack_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackEmulator]:
    """The emulator, scanned at the end for the planted secrets (notes must not echo them)."""
    with scanned_emulator(tmp_path_factory.mktemp("slack"), USERS, PLANTED) as emulator:
        yield emulator


async def slash(engine: Engine, text: str, user: str = ALICE) -> dict[str, Any]:
    response = await post_signed(engine.http, "/slack/commands", command(text, user))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def send_event(
    engine: Engine, payload: dict[str, Any], *, retry: bool = False
) -> dict[str, Any]:
    body = json.dumps(payload)
    # A retry is signed anew (another timestamp), and says which attempt it is.
    stamp = int(time.time()) - 1 if retry else None
    headers = {**signed(body, timestamp=stamp), "content-type": "application/json"}
    if retry:
        headers["x-slack-retry-num"] = "1"
    response = await engine.http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def message(channel: str, user: str, text: str, **extra: Any) -> dict[str, Any]:
    event = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": f"{time.time():.6f}",
        **extra,
    }
    return {"type": "event_callback", "team_id": "TEMULATOR", "event": event}


def notes(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.store.session() as session:
        return [
            (n.author, n.via, n.text)
            for n in session.scalars(select(IncidentNote).order_by(IncidentNote.id))
        ]


@ON_SQLITE
async def test_assign_note_and_thread_replies_from_slack(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    slack_emulator: SlackEmulator,
) -> None:
    emulator = slack_emulator
    async with slack_engine(tmp_path, database_url, temporal_env, emulator) as engine:
        ref, channel = await open_incident(engine, emulator)

        async def card_recorded() -> tuple[str, str] | None:
            with engine.store.session() as session:
                row = session.scalars(select(Incident)).one()
                if row.slack_channel and row.slack_thread_ts:
                    return row.slack_channel, row.slack_thread_ts
                return None

        card_channel, card_ts = await eventually(card_recorded)
        assert card_channel == channel

        made = await slash(engine, f"assign {ref} <@{BOB}|bob> commander")
        assert made["response_type"] == "in_channel", made
        assert "bob commander by alice" in json.dumps(made)
        await slash(engine, f"assign {ref} @alice")
        stranger = await slash(engine, f"assign {ref} @alice", user=STRANGER)
        assert "not linked" in json.dumps(stranger)
        unknown = await slash(engine, f"assign {ref} @mallory")
        assert "not a known responder" in json.dumps(unknown)
        usage = await slash(engine, f"assign {ref}")
        assert "Usage" in json.dumps(usage)
        case = (await engine.http.get(f"/api/v1/incidents/{ref}/case")).json()
        assert (case["commander"], case["assignees"]) == ("bob", ["alice"])

        typed = 'key "AKIAZ7QX3MPLK9WEB2TY"  was in the \\ logs'
        added = await slash(engine, f"note {ref} {typed}")
        assert "Note added" in json.dumps(added)
        assert notes(engine) == [("alice", "slack", typed)]
        assert "Unknown command" not in json.dumps(await slash(engine, f"note {ref}"))

        challenge = await send_event(engine, {"type": "url_verification", "challenge": "c-123"})
        assert challenge == {"challenge": "c-123"}

        reply = message(channel, BOB, "rotated the key, watching logs", thread_ts=card_ts)
        await send_event(engine, reply)
        await send_event(engine, reply, retry=True)  # Slack retries what it thinks was lost
        in_channel = message(channel, ALICE, "customer informed")
        await send_event(engine, in_channel)
        for ignored in (
            message(channel, BOB, "posted by a bot", bot_id="B0BOT0001"),
            message(channel, BOB, "edited", subtype="message_changed"),
            message("CTRIAGE01", BOB, "about another incident"),
            message("COTHER001", BOB, "elsewhere", thread_ts=card_ts),
        ):
            await send_event(engine, ignored)
        mark = emulator.mark()
        await send_event(engine, message(channel, STRANGER, "who are you?", thread_ts=card_ts))

        async def captured() -> list[tuple[str, str, str]] | None:
            found = notes(engine)
            return found if len(found) >= 3 else None

        await eventually(captured)

        async def told() -> bool:
            return any(
                r.params.get("user") == STRANGER and "not linked" in r.body
                for r in emulator.since(mark, "chat.postEphemeral")
            )

        await eventually(told)
        assert notes(engine) == [
            ("alice", "slack", typed),
            ("bob", "slack", "rotated the key, watching logs"),
            ("alice", "slack", "customer informed"),
        ]
        shown = (await engine.http.get(f"/api/v1/incidents/{ref}/notes")).json()
        assert "AKIAZ7QX3MPLK9WEB2TY" not in json.dumps(shown)
        timeline = (await engine.http.get(f"/api/v1/incidents/{ref}")).json()["timeline"]
        assert [e["data"]["via"] for e in timeline if e["kind"] == "note.added"] == ["slack"] * 3


@ON_SQLITE
async def test_thread_replies_arrive_over_socket_mode_too(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    slack_emulator: SlackEmulator,
) -> None:
    emulator = slack_emulator
    async with slack_engine(
        tmp_path, database_url, temporal_env, emulator, socket_mode=True
    ) as engine:
        runner = await start_socket_mode(engine.settings, engine.store, engine.client)
        assert runner is not None
        try:
            ref, channel = await open_incident(engine, emulator)

            async def card_ts() -> str | None:
                with engine.store.session() as session:
                    return session.scalars(select(Incident.slack_thread_ts)).one()

            thread = await eventually(card_ts)
            reply = message(channel, BOB, "isolated the endpoint", thread_ts=thread)
            ack = await asyncio.to_thread(emulator.socket_request, "events_api", reply)
            assert "envelope_id" in ack

            async def captured() -> list[tuple[str, str, str]]:
                return notes(engine)

            assert await eventually(captured) == [("bob", "slack", "isolated the endpoint")]
            assert (await engine.http.get(f"/api/v1/incidents/{ref}/notes")).json()
        finally:
            await runner.stop()


def test_the_app_manifest_subscribes_to_channel_messages_at_the_served_url(
    tmp_path: Path,
) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    paths = set(create_app(load_settings(None, data_dir=tmp_path)).openapi()["paths"])
    events = manifest["settings"]["event_subscriptions"]
    assert urlparse(events["request_url"]).path in paths
    assert {"message.channels", "message.groups"} <= set(events["bot_events"])
    assert {"channels:history", "groups:history"} <= set(manifest["oauth_config"]["scopes"]["bot"])
