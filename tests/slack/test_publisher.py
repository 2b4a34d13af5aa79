"""The publisher against the emulator, without Temporal: who is mentioned for reminders,
breaches and escalations, and a delivery that failed midway resuming without re-posting."""

from __future__ import annotations

from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from integrations.slack.client import web_client
from integrations.slack.emulator import SlackEmulator
from integrations.slack.messages import SlackPosts
from integrations.slack.publisher import Publisher
from integrations.slack.templates import Renderer
from integrations.slack.views import people
from smokejumper.config import load_settings
from smokejumper.domain.incidents import IncidentStart, TimelineEntry
from smokejumper.store.db import Store
from tests.helpers import insert_incident
from tests.slack.conftest import ALICE, BOB, CAROL, slack_config


@pytest.fixture
def publisher(
    tmp_path: Path, sqlite_store: Store, slack_emulator: SlackEmulator
) -> tuple[Publisher, str]:
    channel = f"CP{tmp_path.name[-8:].upper()}"
    settings_slack = slack_config(
        slack_emulator, tmp_path, incident_channels=False, triage_channel=channel
    )
    settings = load_settings(
        None,
        data_dir=tmp_path,
        slack=settings_slack,
        approvers={"oncall": ["alice", "bob"], "leads": ["carol"]},
    )
    return (
        Publisher(
            settings,
            sqlite_store,
            web_client(settings.slack),
            Renderer(),
            resolve=lambda entries: people(entries, settings.approvers),
        ),
        channel,
    )


def entry(incident_id: int, kind: str, message: str, n: int, **data: str) -> TimelineEntry:
    return TimelineEntry(
        incident_id=incident_id,
        kind=kind,
        message=message,
        actor="playbook:test",
        data=data,
        event_key=f"{incident_id}:{kind}:{n}",
    )


async def test_reminders_breaches_and_escalations_mention_the_right_people(
    publisher: tuple[Publisher, str], sqlite_store: Store, slack_emulator: SlackEmulator
) -> None:
    pub, channel = publisher
    incident = insert_incident(sqlite_store, playbook="test")
    posts = SlackPosts()
    steps: list[SlackPosts] = []
    for n, (kind, message, data) in enumerate(
        [
            ("playbook.started", "Playbook test started", {}),
            ("clock.reminder", "Clock gdpr-72h: 4:00:00 left", {}),
            ("clock.breached", "Clock gdpr-72h breached", {"escalate_to": "group:leads"}),
            ("approval.escalated", "No decision on isolate after 1:00:00; also asking carol", {}),
        ]
    ):
        posts = await pub.deliver(
            entry(incident.incident_id, kind, message, n, **data), posts, steps.append
        )
    shown = [m["blocks"][0]["text"]["text"] for m in slack_emulator.messages[channel].values()]
    card, reminder, breach, escalation = shown[0], shown[1], shown[2], shown[3]
    assert card.startswith(incident.ref)
    assert f"<@{ALICE}> <@{BOB}>" in reminder and "4:00:00 left" in reminder
    assert f"<@{CAROL}>" in breach and f"<@{ALICE}>" not in breach
    assert f"<@{CAROL}>" in escalation
    assert posts.channel == channel and posts.partial == []


async def test_a_failed_delivery_resumes_without_posting_twice(
    publisher: tuple[Publisher, str], sqlite_store: Store, slack_emulator: SlackEmulator
) -> None:
    pub, channel = publisher
    incident = insert_incident(sqlite_store, playbook="test")
    posts = await pub.deliver(
        entry(incident.incident_id, "playbook.started", "started", 0), SlackPosts(), lambda _: None
    )
    progress: list[SlackPosts] = []
    completed = entry(incident.incident_id, "step.completed", "Step revoke key completed", 1)
    slack_emulator.fail("chat.update", 503, retry_after=None)
    with pytest.raises(SlackApiError):
        await pub.deliver(completed, posts, progress.append)
    # What the activity's heartbeat holds for its next attempt: the reply is already out.
    assert progress[-1].partial == ["thread"]
    await pub.deliver(completed, progress[-1], lambda _: None)
    replies = [
        m for m in slack_emulator.messages[channel].values() if "revoke key completed" in m["text"]
    ]
    assert len(replies) == 1


def _channel_to_take(
    tmp_path: Path, store: Store, emulator: SlackEmulator
) -> tuple[Publisher, WebClient, IncidentStart, str]:
    """A publisher that opens incident channels, an incident, and its channel's name."""
    settings = load_settings(None, data_dir=tmp_path, slack=slack_config(emulator, tmp_path))
    pub = Publisher(settings, store, web_client(settings.slack), Renderer(), resolve=lambda e: [])
    incident = insert_incident(store, playbook="test")
    name = f"{settings.slack.channel_prefix}-{incident.ref.split('-', 1)[1]}-jailbreak".lower()
    return pub, web_client(settings.slack), incident, name


async def test_a_taken_channel_name_gets_the_next_suffix(
    tmp_path: Path, sqlite_store: Store, slack_emulator: SlackEmulator
) -> None:
    pub, client, incident, name = _channel_to_take(tmp_path, sqlite_store, slack_emulator)
    client.conversations_create(name=name)
    posts = await pub.deliver(
        entry(incident.incident_id, "playbook.started", "started", 0), SlackPosts(), lambda _: None
    )
    assert slack_emulator.channels[str(posts.channel)]["name"] == f"{name}-2"


async def test_an_incident_gets_a_channel_when_every_numbered_name_is_taken(
    tmp_path: Path, sqlite_store: Store, slack_emulator: SlackEmulator
) -> None:
    """Incident numbers start again with a new database: the channels of ten earlier
    installs' INC-…-0001 took the name and its nine numbered suffixes. Before, the tenth
    incident got no channel, and none of its approvals reached Slack."""
    pub, client, incident, name = _channel_to_take(tmp_path, sqlite_store, slack_emulator)
    for taken in [name, *(f"{name}-{n}" for n in range(2, 10))]:
        client.conversations_create(name=taken)
    posts = await pub.deliver(
        entry(incident.incident_id, "playbook.started", "started", 0), SlackPosts(), lambda _: None
    )
    created = slack_emulator.channels[str(posts.channel)]["name"]
    assert created.startswith(f"{name}-") and len(created) == len(name) + 8, created
    assert slack_emulator.messages[str(posts.channel)]
