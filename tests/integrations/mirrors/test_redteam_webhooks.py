"""The tools' webhooks under hostile or surprising deliveries: signature headers holding
bytes that are not ASCII, a responder's comment that begins with the product's name,
comments no note can hold, JSON nested past the parser, and a comment on the issue of an
incident that was merged into another."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from integrations.mirrors.base import IncidentFacts, MirrorEvent
from integrations.mirrors.jira import JiraMirror
from smokejumper.incidents import case_work
from smokejumper.settings.mirrors import JIRA_COMMENT_MARK, JiraSettings
from smokejumper.store.db import Store
from smokejumper.store.tables import IncidentExternalRef, IncidentNote
from tests.engine import in_process_api
from tests.helpers import insert_incident
from tests.integrations.emulators import jira as jira_hooks
from tests.integrations.emulators import pagerduty as pd_hooks
from tests.integrations.emulators.jira import JiraCloud
from tests.integrations.mirrors.test_clients import Kept
from tests.integrations.mirrors.test_webhooks import JIRA_SECRET, PD_SECRET, _configured

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _issue(store: Store, fingerprint: str, key: str) -> str:
    """An incident with a Jira issue `key`; its ref."""
    start = insert_incident(store, playbook="p", fingerprint=fingerprint)
    with store.transaction() as session:
        session.add(
            IncidentExternalRef(incident_id=start.incident_id, system="jira", external_id=key)
        )
    return start.ref


def _notes(store: Store, ref: str) -> list[str]:
    return [note.text for note in case_work.notes_of(store, ref)]


async def _posted_by_our_mirror(note: str) -> str:
    """The text of the comment the Jira mirror posts for a note, as Jira keeps it."""
    with JiraCloud("bot@example.com", "t" * 24, {"SEC": ["Task"]}).running() as jira:
        assert isinstance(jira, JiraCloud)
        settings = JiraSettings.model_validate(
            {"url": jira.url, "email": "bot@example.com", "api_token": "t" * 24, "project": "SEC"}
        )
        mirror = JiraMirror(settings)
        refs = Kept()
        incident = IncidentFacts(
            incident_id=1,
            ref="INC-2026-0001",
            title="t",
            kind="data_leakage",
            severity="high",
            status="open",
            url="https://smokejumper.example/incidents/INC-2026-0001",
            opened_at=datetime.now(UTC),
        )
        note = MirrorEvent(
            kind="note.added", message="", actor="operator", event_key="n", data={"text": note}
        )
        await mirror.deliver(incident, note, refs)
        await mirror.aclose()
        assert refs.ref is not None
        [comment] = jira.comments(refs.ref.external_id)
        return comment


async def _signed_jira(http: httpx.AsyncClient, raw: bytes) -> httpx.Response:
    signature = "sha256=" + hmac.new(JIRA_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return await http.post("/webhooks/jira", content=raw, headers={"x-hub-signature": signature})


async def test_a_signature_header_that_is_not_ascii_is_refused_not_a_crash(
    tmp_path: Path, database_url: str
) -> None:
    async with in_process_api(tmp_path, database_url, **_configured(tmp_path)) as (http, _, _):
        body, _ = pd_hooks.webhook("incident.acknowledged", "INC-2026-0001", PD_SECRET)
        for header in (b"v1=\xe9", b"v1=\xff\xfe,v1=", "v1=é".encode()):
            answer = await http.post(
                "/webhooks/pagerduty", content=body, headers={"x-pagerduty-signature": header}
            )
            assert answer.status_code == 401, header
        body, _ = jira_hooks.comment_webhook("SEC-1", "1", "hello", JIRA_SECRET)
        answer = await http.post(
            "/webhooks/jira", content=body, headers={"x-hub-signature": b"sha256=\xe9\x00"}
        )
        assert answer.status_code == 401


async def test_a_responders_comment_that_starts_with_the_product_name_is_a_note(
    tmp_path: Path, database_url: str
) -> None:
    async with in_process_api(tmp_path, database_url, **_configured(tmp_path)) as (
        http,
        store,
        _,
    ):
        ref = _issue(store, "fp-mark", "SEC-7")
        theirs = "smokejumper revoked the wrong key, check IAM"
        body, headers = jira_hooks.comment_webhook("SEC-7", "100", theirs, JIRA_SECRET)
        answer = await http.post("/webhooks/jira", content=body, headers=headers)
        assert answer.json() == {"incident": ref, "applied": True, "detail": "note added"}
        # The comments our mirror posts, as Jira holds them, still are not taken back in.
        ours = await _posted_by_our_mirror(theirs)
        assert ours.startswith(JIRA_COMMENT_MARK)
        body, headers = jira_hooks.comment_webhook("SEC-7", "101", ours, JIRA_SECRET)
        answer = await http.post("/webhooks/jira", content=body, headers=headers)
        assert answer.json()["detail"] == "our own comment"
        assert _notes(store, ref) == [theirs]


async def test_comments_no_note_can_hold_and_json_nested_too_deep_are_400(
    tmp_path: Path, database_url: str
) -> None:
    async with in_process_api(tmp_path, database_url, **_configured(tmp_path)) as (
        http,
        store,
        _,
    ):
        ref = _issue(store, "fp-nul", "SEC-8")
        body, headers = jira_hooks.comment_webhook("SEC-8", "200", "a\x00b", JIRA_SECRET)
        answer = await http.post("/webhooks/jira", content=body, headers=headers)
        assert answer.status_code == 400
        assert answer.json()["detail"].startswith("comment.body: ")
        deep = b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
        answer = await _signed_jira(http, deep)
        assert answer.status_code == 400
        assert answer.json() == {"detail": "(body): nested too deeply"}
        # As deep as JSON lets an ADF comment be: read, in document order.
        node: dict[str, object] = {"type": "text", "text": "deep"}
        for _ in range(300):
            node = {"type": "paragraph", "content": [{"type": "text", "text": "<"}, node]}
        payload = {
            "webhookEvent": "comment_created",
            "issue": {"key": "SEC-8"},
            "comment": {"id": "201", "body": node, "author": {"displayName": "Erin"}},
        }
        answer = await _signed_jira(http, json.dumps(payload).encode())
        assert answer.json()["applied"] is True
        assert _notes(store, ref) == ["<" * 300 + "deep"]


async def test_a_comment_on_a_merged_incidents_issue_reaches_the_incident_merged_into(
    tmp_path: Path, database_url: str
) -> None:
    async with in_process_api(tmp_path, database_url, **_configured(tmp_path)) as (
        http,
        store,
        _,
    ):
        merged = _issue(store, "fp-merged", "SEC-9")
        target = insert_incident(store, playbook="p", fingerprint="fp-target").ref
        case_work.merge(store, merged, target, by="operator", via="api")
        body, headers = jira_hooks.comment_webhook("SEC-9", "300", "seen after", JIRA_SECRET)
        answer = await http.post("/webhooks/jira", content=body, headers=headers)
        assert answer.json() == {"incident": target, "applied": True, "detail": "note added"}
        assert _notes(store, target) == ["seen after"]
        with store.session() as session:
            assert session.query(IncidentNote).count() == 1


async def test_an_opsgenie_token_is_compared_as_the_bytes_sent(
    tmp_path: Path, database_url: str
) -> None:
    token = "jeton-sécurité-" + "3" * 20
    (tmp_path / "og-token").write_text(token)
    (tmp_path / "og-key").write_text("o" * 36)
    opsgenie = {
        "api_key": f"file:{tmp_path / 'og-key'}",
        "webhook_secret": f"file:{tmp_path / 'og-token'}",
    }
    async with in_process_api(tmp_path, database_url, opsgenie=opsgenie) as (http, store, _):
        ref = insert_incident(store, playbook="p", fingerprint="fp-og").ref
        payload = {"action": "Acknowledge", "alert": {"alertId": "a-1", "alias": ref}}
        for wrong in (b"", token.encode("latin-1", "replace"), b"\xff" * 8):
            refused = await http.post(
                "/webhooks/opsgenie", json=payload, headers={"x-smokejumper-token": wrong}
            )
            assert refused.status_code == 401, wrong
        # The custom header Opsgenie sends carries the configured value in UTF-8.
        answer = await http.post(
            "/webhooks/opsgenie", json=payload, headers={"x-smokejumper-token": token.encode()}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "incident": ref,
            "applied": True,
            "detail": "status open → acknowledged",
        }
