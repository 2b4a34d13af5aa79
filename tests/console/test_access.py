"""Access control over plain HTTP, against a running engine: roles on the API and the
console, CSRF on every form, the auth proxy's header only from the proxy."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from sqlalchemy import select

from smokejumper.store.tables import AuditEntry
from tests.console.conftest import PASSWORDS, Console, asgi_client
from tests.console.console_playbooks import LEAKED
from tests.helpers import eventually, tampered
from tests.test_end_to_end import example

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, name: str) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    form = await client.get("/login")
    signed = await client.post(
        "/login",
        data={"username": name, "password": PASSWORDS[name], "csrf_token": csrf_of(form)},
    )
    assert signed.status_code == 303, signed.text
    return csrf_of(await client.get("/"))


def browser(console: Console) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=console.url, timeout=30)


async def test_api_roles_viewer_reads_but_cannot_approve_or_see_raw(console: Console) -> None:
    ref = await console.open_incident()
    async with console.as_user("victor") as victor, console.as_user("alice") as alice:
        assert (await victor.get(f"/api/v1/incidents/{ref}")).status_code == 200
        refused = await victor.post(
            f"/api/v1/incidents/{ref}/approvals/isolate", json={"approve": True}
        )
        assert refused.status_code == 403
        assert "victor is a viewer" in refused.json()["detail"]

        listed = await victor.get(f"/api/v1/incidents/{ref}/evidence")
        assert listed.status_code == 200
        (item,) = listed.json()
        # Everyone sees the hash and the redacted preview, never the key itself.
        assert "AKIAIOSFODNN7EXAMPLE" not in listed.text
        assert "[REDACTED:aws_access_key_id]" in item["redacted_preview"]
        raw_path = f"/api/v1/incidents/{ref}/evidence/{item['id']}/raw"
        assert (await victor.get(raw_path)).status_code == 403
        alert_id = (await victor.get(f"/api/v1/incidents/{ref}")).json()["alerts"][0]["id"]
        assert (
            await victor.get(f"/api/v1/incidents/{ref}/alerts/{alert_id}/raw")
        ).status_code == 403

        raw = await alice.get(raw_path)
        assert raw.status_code == 200 and raw.text == LEAKED
        assert raw.headers["x-content-sha256"] == item["sha256"]
        assert (
            await alice.get(f"/api/v1/incidents/{ref}/alerts/{alert_id}/raw")
        ).status_code == 200

        # A responder's token acts as the responder: the playbook checks the name.
        approved = await alice.post(
            f"/api/v1/incidents/{ref}/approvals/isolate", json={"approve": True, "reason": "go"}
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["decision"]["decided_by"] == ["alice"]
    async with httpx.AsyncClient(base_url=console.url) as anonymous:
        assert (await anonymous.get(f"/api/v1/incidents/{ref}")).status_code == 401
        forged = await anonymous.get(
            f"/api/v1/incidents/{ref}", headers={"authorization": "Bearer sjt_not-a-token"}
        )
        assert forged.status_code == 401


async def test_console_forms_need_the_sessions_csrf_token(console: Console) -> None:
    ref = await console.open_incident()
    action = f"/incidents/{ref}/approvals/isolate"
    async with browser(console) as alice:
        csrf = await sign_in(alice, "alice")
        missing = await alice.post(action, data={"decision": "approve"})
        assert missing.status_code == 403
        assert "CSRF token is missing or wrong" in missing.text
        wrong = await alice.post(action, data={"decision": "approve", "csrf_token": "0" * 64})
        assert wrong.status_code == 403
        # Another session's token is wrong for this one.
        async with browser(console) as other:
            foreign = await sign_in(other, "root")
        assert (
            await alice.post(action, data={"decision": "approve", "csrf_token": foreign})
        ).status_code == 403
        live = (await console.engine.http.get(f"/api/v1/incidents/{ref}")).json()["live"]
        assert live["pending_approvals"] == ["isolate"], "a refused form must not vote"

        done = await alice.post(action, data={"decision": "approve", "csrf_token": csrf})
        assert done.status_code == 303
        page = await alice.get(done.headers["location"])
        assert "Step isolate approved." in page.text
        closed = await alice.post(
            f"/incidents/{ref}/close", data={"reason": "contained", "csrf_token": csrf}
        )
        flashed = (await alice.get(closed.headers["location"])).text
        assert f"{ref} closed; its playbook has stopped." in flashed

    async def audited() -> list[AuditEntry] | None:
        with console.engine.store.session() as session:
            rows = session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action.in_(("approval.approved", "incident.close"))
                )
            ).all()
            return list(rows) if len(rows) == 2 else None

    vote, close = await eventually(audited)
    assert (vote.action, vote.actor, vote.subject) == ("approval.approved", "alice", ref)
    assert vote.data["via"] == "console"
    assert (close.action, close.actor, close.data["reason"]) == (
        "incident.close",
        "alice",
        "contained",
    )


async def test_viewer_is_refused_in_the_console(console: Console) -> None:
    ref = await console.open_incident()
    async with browser(console) as victor:
        csrf = await sign_in(victor, "victor")
        page = await victor.get(f"/incidents/{ref}")
        assert page.status_code == 200
        assert "Viewers cannot decide approvals." in page.text
        assert "AKIAIOSFODNN7EXAMPLE" not in page.text
        refused = await victor.post(
            f"/incidents/{ref}/approvals/isolate", data={"decision": "approve", "csrf_token": csrf}
        )
        assert refused.status_code == 403
        assert "victor is a viewer: deciding approvals needs the responder role" in refused.text
        evidence = (await console.engine.http.get(f"/api/v1/incidents/{ref}/evidence")).json()
        raw = await victor.get(f"/incidents/{ref}/evidence/{evidence[0]['id']}/raw")
        assert raw.status_code == 403


async def test_sign_in_cookie_and_refusals(console: Console) -> None:
    async with browser(console) as client:
        assert (await client.get("/")).headers["location"] == "/login?next=/"
        form = await client.get("/login")
        cookie = form.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        wrong = await client.post(
            "/login",
            data={"username": "alice", "password": "not her password", "csrf_token": csrf_of(form)},
        )
        assert wrong.status_code == 401
        assert "Wrong user name or password." in wrong.text
        before = client.cookies.get("smokejumper_session")
        await sign_in(client, "alice")
        assert client.cookies.get("smokejumper_session") != before, "sign-in issues a new session"
        # A tampered cookie is no session at all.
        client.cookies.set("smokejumper_session", tampered(client.cookies["smokejumper_session"]))
        assert (await client.get("/")).status_code == 303


async def test_trusted_header_only_from_the_proxy(console: Console) -> None:
    async with browser(console) as client:
        # The engine is reached from 127.0.0.1, which is not the configured proxy.
        ignored = await client.get("/", headers={"x-forwarded-user": "root"})
        assert ignored.status_code == 303
        assert ignored.headers["location"].startswith("/login")
    settings, store = console.engine.settings, console.engine.store
    async with asgi_client(settings, store, address="192.0.2.10") as client:
        page = await client.get("/", headers={"x-forwarded-user": "root"})
        assert page.status_code == 200
        assert 'data-testid="user">root' in page.text
        unknown = await client.get("/", headers={"x-forwarded-user": "newcomer"})
        assert 'data-testid="user">newcomer <small class="role role-viewer">' in unknown.text


async def test_a_responder_decides_only_steps_that_name_them(console: Console) -> None:
    ref = await console.open_incident()
    async with browser(console) as rita:
        csrf = await sign_in(rita, "rita")
        answer = await rita.post(
            f"/incidents/{ref}/approvals/isolate", data={"decision": "deny", "csrf_token": csrf}
        )
        page = await rita.get(answer.headers["location"])
        flash = re.search(r'data-testid="flash">([^<]*)<', page.text)
        assert flash, page.text[:2000]
        assert flash.group(1) == "Refused: rita is not an approver for step &#39;isolate&#39;"
    live = (await console.engine.http.get(f"/api/v1/incidents/{ref}")).json()["live"]
    assert live["pending_approvals"] == ["isolate"]


async def test_dead_letters_playbooks_and_inventory_pages(console: Console) -> None:
    refused = await console.engine.http.post(
        "/api/v1/alerts", json={"source": "x", "kind": "bogus", "severity": "high"}
    )
    assert refused.status_code == 422
    async with browser(console) as victor:
        await sign_in(victor, "victor")
        letters = await victor.get("/dead-letters")
        assert "kind" in letters.text and "Replay</button>" not in letters.text
        playbooks = await victor.get("/playbooks")
        assert 'data-testid="playbook-triage"' in playbooks.text
        assert (await victor.get("/inventory")).status_code == 200
    async with browser(console) as alice:
        csrf = await sign_in(alice, "alice")
        letters = await alice.get("/dead-letters")
        assert "Replay</button>" in letters.text
        letter_id = refused.json()["dead_letter_id"]
        replayed = await alice.post(f"/dead-letters/{letter_id}/replay", data={"csrf_token": csrf})
        page = await alice.get(replayed.headers["location"])
        assert "Replay refused: the alert still fails validation." in page.text

        rehearsed = await alice.post(
            "/playbooks/triage/dry-run",
            data={"alert": json.dumps(example()), "approve": "all", "csrf_token": csrf},
        )
        assert rehearsed.status_code == 200, rehearsed.text
        assert "Dry run of playbook triage" in rehearsed.text
        assert "Outcome: <strong>" in rehearsed.text
        invalid = await alice.post(
            "/playbooks/triage/dry-run",
            data={"alert": '{"kind": "bogus"}', "approve": "all", "csrf_token": csrf},
        )
        assert invalid.status_code == 422
        assert "not a valid alert:" in invalid.text and "kind: Input should be" in invalid.text
    async with browser(console) as victor:
        csrf = await sign_in(victor, "victor")
        assert "Rehearse triage" not in (await victor.get("/playbooks")).text
        refused = await victor.post(
            "/playbooks/triage/dry-run",
            data={"alert": json.dumps(example()), "approve": "all", "csrf_token": csrf},
        )
        assert refused.status_code == 403


async def test_the_server_decides_a_votes_via_and_sends_security_headers(
    console: Console,
) -> None:
    ref = await console.open_incident()
    async with console.as_user("alice") as alice:
        # A client claiming to vote from Slack through the API is recorded as the API.
        approved = await alice.post(
            f"/api/v1/incidents/{ref}/approvals/isolate",
            json={"approve": True, "reason": "go", "via": "slack"},
        )
        assert approved.status_code == 200, approved.text
        alert_id = (await alice.get(f"/api/v1/incidents/{ref}")).json()["alerts"][0]["id"]
        raw = await alice.get(f"/api/v1/incidents/{ref}/alerts/{alert_id}/raw")
        assert raw.status_code == 200
        assert raw.headers["x-content-type-options"] == "nosniff"
        (item,) = (await alice.get(f"/api/v1/incidents/{ref}/evidence")).json()
        evidence = await alice.get(f"/api/v1/incidents/{ref}/evidence/{item['id']}/raw")
        assert evidence.headers["x-content-type-options"] == "nosniff"

    async def voted() -> AuditEntry | None:
        with console.engine.store.session() as session:
            return session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "approval.approved", AuditEntry.subject == ref
                )
            ).first()

    vote = await eventually(voted)
    assert vote.data["via"] == "api"

    async with browser(console) as page_reader:
        login = await page_reader.get("/login")
        await sign_in(page_reader, "alice")
        for page in (login, await page_reader.get("/"), await page_reader.get(f"/incidents/{ref}")):
            assert page.status_code == 200, page.text[:300]
            assert page.headers["x-content-type-options"] == "nosniff"
            assert page.headers["referrer-policy"] == "same-origin"


async def test_whoever_sees_an_incident_reads_its_redacted_report(console: Console) -> None:
    """Slack hands the report's link to the whole channel: a responder or viewer who can
    see the incident can open it, and it holds no secret."""
    ref = await console.open_incident()
    for name in ("alice", "victor"):
        async with console.as_user(name) as client:
            for fmt in ("md", "html", "json"):
                report = await client.get(f"/api/v1/incidents/{ref}/report", params={"format": fmt})
                assert report.status_code == 200, (name, fmt, report.text)
                assert ref in report.text
                assert "AKIAIOSFODNN7EXAMPLE" not in report.text
    async with httpx.AsyncClient(base_url=console.url) as anonymous:
        assert (await anonymous.get(f"/api/v1/incidents/{ref}/report")).status_code == 401
