"""Alert text with Unicode line breaks (NEL, LINE/PARAGRAPH SEPARATOR) in an incident's
title: Python's e-mail headers refuse them, so unless the subject is flattened first the
incident's mails are never sent (the delivery gives up on a ValueError)."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from integrations.email.notices import Notices, compose, one_line
from smokejumper.domain.incidents import TimelineEntry
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident
from tests.integrations.email.test_notices import hostile_incident, settings_for

BREAKS = ["\x85", "\u2028", "\u2029", "\x9b"]


@pytest.mark.parametrize("kind", ["playbook.started", "approval.requested"])
def test_unicode_line_breaks_in_a_title_still_mail_with_one_subject_line(
    tmp_path: Path, sqlite_store: Store, sqlite_url: str, kind: str
) -> None:
    settings = settings_for(tmp_path, sqlite_url)
    incident_id = hostile_incident(sqlite_store)
    with sqlite_store.transaction() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        incident.title = "Leak".join(BREAKS) + "Bcc: all@evil.example"
    entry = TimelineEntry(
        incident_id=incident_id,
        kind=kind,
        step="isolate",
        message="Approval requested for isolate: Isolate it?",
        actor="playbook:p",
        data={"approvers": "group:oncall", "min_approvals": 1},
        event_key="k-unicode",
    )
    with sqlite_store.session() as session:
        mails = Notices(settings, b"k" * 32).mails(session, entry, "k-unicode")
        incident = session.get(Incident, incident_id)
        assert incident is not None and settings.email is not None and mails
        for mail in mails:
            wire = compose(mail, settings.email, incident).as_bytes()
            parsed = message_from_bytes(wire, policy=policy.default)
            assert parsed.get_all("Bcc") is None
            subject = str(parsed["Subject"])
            assert not any(b in subject for b in BREAKS) and "Leak Leak Leak Bcc:" in subject


def test_one_line_flattens_every_line_break_python_knows() -> None:
    text = "a\r\nb\x0bc\x0cd\x1ce\x1df\x1eg\x85h\u2028i\u2029j"
    assert one_line(text).splitlines() == [one_line(text)]
