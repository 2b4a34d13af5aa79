"""Which Slack messages in an incident's thread become notes: a reply also sent to the
channel and one with a file are a person's words; edits and bots' messages are not."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from integrations.slack.case_commands import capture_message
from smokejumper.config import Settings
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident, IncidentNote
from tests.helpers import insert_incident


def _event(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": "CINC00001",
        "user": "U0BOB0001",
        "text": text,
        "ts": f"{uuid.uuid4().int % 10**9}.000100",
        "thread_ts": "1700000000.000100",
        **extra,
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_thread_replies_a_person_wrote_are_kept_and_others_not(
    migrated_store: Store, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, slack={"users": {"U0BOB0001": "bob"}})
    incident = insert_incident(migrated_store, playbook="p", fingerprint=uuid.uuid4().hex)
    with migrated_store.transaction() as session:
        row = session.get(Incident, incident.incident_id)
        assert row is not None
        row.slack_channel, row.slack_thread_ts = "CINC00001", "1700000000.000100"

    for event in (
        _event("plain reply"),
        _event("also sent to the channel", subtype="thread_broadcast"),
        _event("see the attached log", subtype="file_share"),
        _event("edited", subtype="message_changed"),
        _event("deleted", subtype="message_deleted"),
        _event("bob joined", subtype="channel_join"),
        _event("the app itself", bot_id="B0APP0001"),
        _event("another bot", subtype="bot_message"),
    ):
        capture_message(migrated_store, settings, event)

    with migrated_store.session() as session:
        kept = session.scalars(select(IncidentNote.text).order_by(IncidentNote.id)).all()
    assert kept == ["plain reply", "also sent to the channel", "see the attached log"]
