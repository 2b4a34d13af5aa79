"""Responder mail without a running playbook: settings refused with the field named,
messages that cannot be bent by what an alert says (headers, HTML), a hand-off mailed
without links, and approval links refused before anything is decided."""

from __future__ import annotations

import re
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from pydantic import ValidationError

from integrations.email.notices import Notices, compose
from smokejumper.config import Settings
from smokejumper.domain.incidents import TimelineEntry
from smokejumper.security import approval_links
from smokejumper.security.approval_links import LinkRefused
from smokejumper.security.operator import operator_token
from smokejumper.security.users import Role, add_user
from smokejumper.settings.email import EmailSettings
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident
from tests.engine import in_process_api
from tests.helpers import insert_incident, make_settings

EMAIL = {"host": "127.0.0.1", "security": "none", "from_address": "ir@smokejumper.example"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_settings_name_the_field_they_refuse() -> None:
    with pytest.raises(ValidationError, match=r"notify\.urgent"):
        EmailSettings(**EMAIL, notify={"urgent": ["a@b.example"]})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"notify\.critical\.0"):
        EmailSettings(**EMAIL, notify={"critical": ["a@b.example\r\nBcc: x@evil.example"]})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"users\.alice"):
        EmailSettings(**EMAIL, users={"alice": "not-an-address"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="link_hours"):
        EmailSettings(**EMAIL, link_hours=0)  # type: ignore[arg-type]


def hostile_incident(store: Store) -> int:
    start = insert_incident(store, playbook="p", fingerprint="fp-mail")
    with store.transaction() as session:
        incident = session.get(Incident, start.incident_id)
        assert incident is not None
        incident.severity = "critical"
        incident.title = "Injected\r\nBcc: all@evil.example <script>alert(1)</script>"
    return start.incident_id


def settings_for(tmp_path: Path, sqlite_url: str) -> Settings:
    return make_settings(
        tmp_path,
        sqlite_url,
        "127.0.0.1:1",
        email={
            **EMAIL,
            "notify": {"critical": ["secops@smokejumper.example"]},
            "users": {"alice": "alice@smokejumper.example"},
        },
        approvers={"oncall": ["alice"]},
    )


def test_alert_text_cannot_add_headers_or_markup(
    tmp_path: Path, sqlite_store: Store, sqlite_url: str
) -> None:
    settings = settings_for(tmp_path, sqlite_url)
    incident_id = hostile_incident(sqlite_store)
    entry = TimelineEntry(
        incident_id=incident_id,
        kind="playbook.started",
        message="started",
        actor="playbook:p",
        event_key="k1",
    )
    with sqlite_store.session() as session:
        [mail] = Notices(settings, b"k" * 32).mails(session, entry, "1:opened")
        incident = session.get(Incident, incident_id)
        assert incident is not None and settings.email is not None
        wire = compose(mail, settings.email, incident).as_bytes()
    parsed = message_from_bytes(wire, policy=policy.default)
    assert parsed.get_all("Bcc") is None
    assert "\n" not in str(parsed["Subject"]) and "Injected Bcc:" in str(parsed["Subject"])
    html_part = parsed.get_body(("html",))
    assert html_part is not None
    shown = html_part.get_content()
    assert "<script>" not in shown and "&lt;script&gt;" in shown


def test_a_failed_step_put_to_people_is_mailed_without_links(
    tmp_path: Path, sqlite_store: Store, sqlite_url: str
) -> None:
    settings = settings_for(tmp_path, sqlite_url)
    incident_id = hostile_incident(sqlite_store)
    entry = TimelineEntry(
        incident_id=incident_id,
        kind="approval.requested",
        step="isolate",
        message="Approval requested for isolate: The endpoint could not be isolated",
        actor="playbook:p",
        data={"approvers": "group:oncall", "min_approvals": 1, "choices": "retry,done,skip"},
        event_key="k2",
    )
    with sqlite_store.session() as session:
        mails = Notices(settings, b"k" * 32).mails(session, entry, "k2")
    asked = next(m for m in mails if m.to == ["alice@smokejumper.example"])
    assert [label for label, _ in asked.links] == ["Open the incident in the console"]
    assert "Decision needed: isolate" in asked.subject


def test_links_are_checked_and_used_once(sqlite_store: Store) -> None:
    key = b"k" * 32
    later = int(time.time()) + 60
    token = approval_links.issue(key, "INC-1", "isolate", "alice", "req-1", later)
    link = approval_links.read(key, token, "INC-1", "isolate", "alice")
    for wrong, said in [
        ((b"x" * 32, token, "INC-1", "isolate", "alice"), "not valid"),
        ((key, token + "x", "INC-1", "isolate", "alice"), "not valid"),
        ((key, token, "INC-2", "isolate", "alice"), "another incident or step"),
        ((key, token, "INC-1", "restore", "alice"), "another incident or step"),
        ((key, token, "INC-1", "isolate", "rita"), "sent to alice"),
    ]:
        with pytest.raises(LinkRefused, match=said):
            approval_links.read(*wrong)
    with sqlite_store.transaction() as session:
        approval_links.use(session, link)
    with pytest.raises(LinkRefused, match="used already"), sqlite_store.transaction() as session:
        approval_links.use(session, link)
    # A second mail of the same request carries the same single-use link.
    again = approval_links.issue(key, "INC-1", "isolate", "alice", "req-1", later)
    with sqlite_store.session() as session:
        assert approval_links.used(
            session, approval_links.read(key, again, "INC-1", "isolate", "alice")
        )


async def test_hostile_link_requests_are_refused_before_anything_is_decided(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with in_process_api(tmp_path, sqlite_url, email=EMAIL) as (api, store, settings):
        start = insert_incident(store, playbook="p", fingerprint="fp-link")
        with store.transaction() as session:
            add_user(session, "alice", Role.RESPONDER, "alice-password-1")
            incident = session.get(Incident, start.incident_id)
            assert incident is not None and incident.ref is not None
            ref = incident.ref
        browser = api
        form = await browser.get("/login")
        token = CSRF.search(form.text)
        assert token
        signed = await browser.post(
            "/login",
            data={
                "username": "alice",
                "password": "alice-password-1",
                "csrf_token": token.group(1),
            },
        )
        assert signed.status_code == 303
        base = f"/incidents/{ref}/approvals/isolate"
        missing = await browser.get(base)
        assert missing.status_code == 400 and "no token" in missing.text
        garbage = await browser.get(base, params={"t": "<script>x</script>", "decision": "x" * 5})
        assert garbage.status_code == 400 and "<script>x" not in garbage.text
        key = approval_links.link_key(settings, operator_token(settings))
        other = approval_links.issue(key, ref, "restore", "alice", "r", int(time.time()) + 60)
        moved = await browser.get(base, params={"t": other})
        assert moved.status_code == 400 and "another incident or step" in moved.text
        page = await browser.get("/")
        csrf = CSRF.search(page.text)
        assert csrf
        posted = await browser.post(
            f"{base}/confirm",
            data={"t": other, "decision": "approve", "csrf_token": csrf.group(1)},
        )
        assert posted.status_code == 400
        bad_choice = await browser.post(
            f"{base}/confirm",
            data={"t": other, "decision": "maybe", "csrf_token": csrf.group(1)},
        )
        assert bad_choice.status_code == 422 and "decision" in bad_choice.text
