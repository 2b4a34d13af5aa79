"""Responders by e-mail, end to end: a real SMTP server (aiosmtpd), the Temporal dev
server, the API and console over HTTP.

An incident's opening, its approval request, the decision and the resolution are mailed
(masked, threaded, each once); an approval's Approve link only leads to a console page
that needs a signed-in responder and a confirming POST, and then votes like the console;
the link cannot be tampered with, reused, used by another person, or used when expired;
a mail server that is down delays the mail, never the containment.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from integrations.email.messages import delivery_id
from integrations.keys.local import LocalKeys
from smokejumper.security import approval_links
from smokejumper.security.operator import operator_token
from smokejumper.store.tables import AuditEntry, Incident, TimelineEvent
from tests.console.conftest import PASSWORDS, add_users
from tests.engine import Engine, engine_on
from tests.helpers import eventually, free_port, tampered
from tests.integrations.email.conftest import Mailbox, serving
from tests.integrations.email.email_playbooks import (
    FIRST_KEY,
    LEAKED_IN_QUESTION,
    SECOND_KEY,
    ContainByEmail,
)
from tests.slack.planted import OPENAI_KEY, PLANTED, leaking_alert

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SECOPS = "secops@smokejumper.example"
ADDRESSES = {
    "alice": "alice@smokejumper.example",
    "rita": "rita@smokejumper.example",
    "victor": "victor@smokejumper.example",
}
STEP = "revoke batch key"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NEXT = re.compile(r'name="next" value="([^"]+)"')


@asynccontextmanager
async def mail_engine(
    tmp_path: Path, database_url: str, env: WorkflowEnvironment, box: Mailbox
) -> AsyncIterator[Engine]:
    # victor is a viewer whom the approver group names by mistake: he is mailed, and the
    # console still refuses him.
    async with engine_on(
        tmp_path,
        database_url,
        env,
        workflows=[ContainByEmail],
        email=box.settings(notify={"critical": [SECOPS]}, users=ADDRESSES),
        approvers={"oncall": ["alice", "rita", "victor"]},
        routes=[{"playbook": ContainByEmail.name, "kinds": ["data_leakage"]}],
    ) as engine:
        keys = LocalKeys(engine.settings.local_keys_file)
        keys.create(FIRST_KEY)
        keys.create(SECOND_KEY)
        add_users(engine.store)
        yield engine


def to(box: Mailbox, address: str) -> list[EmailMessage]:
    return [message for rcpt, message in box.received if address in rcpt]


async def mail(box: Mailbox, address: str, subject_part: str) -> EmailMessage:
    async def arrived() -> EmailMessage | None:
        return next((m for m in to(box, address) if subject_part in str(m["Subject"])), None)

    return await eventually(arrived)


def text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def everything(message: EmailMessage) -> str:
    """What a reader or a mail archive sees: decoded headers, both bodies, the raw form."""
    part = message.get_body(("html",))
    assert part is not None
    headers = "\n".join(f"{name}: {value}" for name, value in message.items())
    return "\n".join([headers, text(message), str(part.get_content()), message.as_string()])


def link(message: EmailMessage, label: str) -> str:
    found = re.search(rf"^{label}: (\S+)", text(message), re.MULTILINE)
    assert found, text(message)
    return found.group(1)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def sign_in_through(browser: httpx.AsyncClient, url: str, name: str) -> None:
    """Open `url` signed out, sign in on the page it leads to, and land back on it."""
    opened = await browser.get(url)
    assert opened.status_code == 303 and opened.headers["location"].startswith("/login?next=")
    form = await browser.get(opened.headers["location"])
    token, next_path = CSRF.search(form.text), NEXT.search(form.text)
    assert token and next_path
    signed = await browser.post(
        "/login",
        data={
            "username": name,
            "password": PASSWORDS[name],
            "csrf_token": token.group(1),
            "next": html.unescape(next_path.group(1)),
        },
    )
    assert signed.status_code == 303 and signed.headers["location"] == path_of(url)


def votes(engine: Engine) -> list[str]:
    with engine.store.session() as session:
        return list(
            session.scalars(
                select(TimelineEvent.message).where(TimelineEvent.kind == "approval.vote")
            )
        )


async def test_mail_and_approval_links_end_to_end(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment, mailbox: Mailbox
) -> None:
    async with mail_engine(tmp_path, database_url, temporal_env, mailbox) as engine:
        accepted = await engine.http.post("/api/v1/alerts", json=leaking_alert())
        assert accepted.status_code == 202, accepted.text
        ref = accepted.json()["incident_id"]

        # The opening notice, to the addresses of the severity: masked, headers included.
        opened = await mail(mailbox, SECOPS, "CRITICAL")
        assert ref in str(opened["Subject"]) and "sk-proj-…5uQi" in str(opened["Subject"])
        assert "j…@….com" in text(opened) and "support-chat-prod" in text(opened)
        assert f"/incidents/{ref}" in text(opened)
        root = str(opened["Message-ID"])

        # One request per approver, each with links of their own; a notice to secops.
        asked = {
            name: await mail(mailbox, address, "Approval needed")
            for name, address in ADDRESSES.items()
        }
        notice = await mail(mailbox, SECOPS, "Approval needed")
        assert "Approve:" not in text(notice)
        approve = {name: link(message, "Approve") for name, message in asked.items()}
        assert len(set(approve.values())) == 3
        assert "sk-proj-…7uTs" in text(asked["alice"])
        assert (
            f"/incidents/{ref}/approvals/revoke%20batch%20key?decision=approve&t="
            in approve["alice"]
        )
        assert (
            link(asked["alice"], "Deny").replace("decision=deny", "decision=approve")
            == approve["alice"]
        )

        async with httpx.AsyncClient(base_url=engine.base_url, timeout=30) as alice:
            # A mail scanner fetching the link gets the sign-in page, and nothing is decided.
            await sign_in_through(alice, approve["alice"], "alice")
            page = await alice.get(approve["alice"])
            assert page.status_code == 200, page.text
            assert "Approve step “revoke batch key”?" in page.text and "sk-proj-…7uTs" in page.text
            assert LEAKED_IN_QUESTION not in page.text and OPENAI_KEY not in page.text
            assert votes(engine) == [], "opening the link must not vote"

            csrf = CSRF.search(page.text)
            assert csrf
            action = f"/incidents/{ref}/approvals/{STEP}/confirm"
            token = approve["alice"].rsplit("t=", 1)[1]
            form = {"decision": "approve", "t": token, "reason": "seen the logs"}
            refused = await alice.post(action, data=form)
            assert refused.status_code == 403 and "CSRF" in refused.text
            altered = await alice.post(
                action, data={**form, "csrf_token": csrf.group(1), "t": tampered(token)}
            )
            assert altered.status_code == 400 and "not valid" in altered.text
            # Rita's link is hers: alice cannot spend it.
            theirs = await alice.get(approve["rita"])
            assert theirs.status_code == 400 and "sent to rita" in theirs.text
            # An expired link (signed with the real key) is refused.
            key = approval_links.link_key(engine.settings, operator_token(engine.settings))
            stale = approval_links.issue(key, ref, STEP, "alice", "old", int(time.time()) - 1)
            expired = await alice.get(f"/incidents/{ref}/approvals/{STEP}?t={stale}")
            assert expired.status_code == 400 and "expired" in expired.text
            assert votes(engine) == []

            voted = await alice.post(action, data={**form, "csrf_token": csrf.group(1)})
            assert voted.status_code == 303, voted.text
            flashed = await alice.get(voted.headers["location"])
            assert "1 more approval(s) needed" in flashed.text

            # Written just after the decision applies (Approvals._count).
            async def recorded() -> list[str]:
                return votes(engine)

            assert await eventually(recorded) == [
                "alice approved revoke batch key via email: seen the logs"
            ]

            # Used once: neither the page nor the form takes it again.
            again = await alice.get(approve["alice"])
            assert again.status_code == 410 and "used already" in again.text
            replayed = await alice.post(action, data={**form, "csrf_token": csrf.group(1)})
            assert replayed.status_code == 410

        async with httpx.AsyncClient(base_url=engine.base_url, timeout=30) as victor:
            await sign_in_through(victor, approve["victor"], "victor")
            viewer = await victor.get(approve["victor"])
            assert viewer.status_code == 403 and "needs the responder role" in viewer.text

        # The second person decides from their mail; the playbook carries on.
        async with httpx.AsyncClient(base_url=engine.base_url, timeout=30) as rita:
            await sign_in_through(rita, approve["rita"], "rita")
            page = await rita.get(approve["rita"])
            csrf = CSRF.search(page.text)
            assert csrf
            token = approve["rita"].rsplit("t=", 1)[1]
            voted = await rita.post(
                f"/incidents/{ref}/approvals/{STEP}/confirm",
                data={"decision": "approve", "t": token, "csrf_token": csrf.group(1)},
            )
            assert voted.status_code == 303
            assert (
                "Step revoke batch key approved."
                in (await rita.get(voted.headers["location"])).text
            )

        decided = await mail(mailbox, SECOPS, "revoke batch key: approved")
        assert sorted(decided["To"].addresses[i].addr_spec for i in range(4)) == sorted(
            [SECOPS, *ADDRESSES.values()]
        )
        resolved = await mail(mailbox, SECOPS, "resolved")
        assert "both keys revoked" in text(resolved)
        assert LocalKeys(engine.settings.local_keys_file).verify_revoked(SECOND_KEY)

        with engine.store.session() as session:
            audited = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "approval.approved")
            ).all()
        assert sorted((a.actor, a.data["via"]) for a in audited) == [
            ("alice", "email"),
            ("rita", "email"),
        ]

        # Each message once (a retried timeline activity starts nothing twice), every one
        # threaded under the opening notice, and no planted secret anywhere in any of them.
        ids = [str(message["Message-ID"]) for _, message in mailbox.received]
        assert len(ids) == len(set(ids)) == 7, [str(m["Subject"]) for _, m in mailbox.received]
        for _, message in mailbox.received:
            if str(message["Message-ID"]) != root:
                assert message["References"] == root and message["In-Reply-To"] == root
            seen = everything(message)
            assert not [s[:8] for s in (*PLANTED, LEAKED_IN_QUESTION) if s in seen]


async def test_a_mail_server_that_is_down_delays_the_mail_not_the_containment(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    box = Mailbox("127.0.0.1", free_port())  # nothing listens there yet
    async with mail_engine(tmp_path, database_url, temporal_env, box) as engine:
        started = time.monotonic()
        accepted = await engine.http.post("/api/v1/alerts", json=leaking_alert())
        assert accepted.status_code == 202

        async def revoked() -> bool:
            return LocalKeys(engine.settings.local_keys_file).verify_revoked(FIRST_KEY)

        await eventually(revoked, within=30)
        assert time.monotonic() - started < 10
        with engine.store.session() as session:
            incident = session.scalars(select(Incident)).one()
        delivery = engine.client.get_workflow_handle(
            delivery_id(incident.workflow_id, f"{incident.id}:opened")
        )

        async def last_failure() -> str | None:
            pending = (await delivery.describe()).raw_description.pending_activities
            return pending[0].last_failure.message if pending else None

        # The opening notice failed against the closed port and waits for its retry.
        assert "cannot deliver" in await eventually(last_failure)
        assert box.received == []

        with serving(box):
            opened = await mail(box, SECOPS, "CRITICAL")
            await mail(box, ADDRESSES["alice"], "Approval needed")
            assert "A new incident was opened" in text(opened)

            async def recorded() -> bool:
                # The delivery records the mail once the server has taken it: a moment
                # after it is in the box.
                with engine.store.session() as session:
                    sent = session.scalars(
                        select(TimelineEvent.event_key).where(TimelineEvent.kind == "email.sent")
                    ).all()
                return f"email:{incident.id}:opened" in sent

            await eventually(recorded, within=30)
        assert len([m for m in to(box, SECOPS) if "CRITICAL" in str(m["Subject"])]) == 1
