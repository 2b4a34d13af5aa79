"""A leak incident reaches PagerDuty, Opsgenie, Jira and Teams; what responders do there
comes back, signed, and is not echoed back out."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from integrations.mirrors.messages import mirror_relay_id
from smokejumper.store.tables import (
    AuditEntry,
    Incident,
    IncidentExternalRef,
    IncidentNote,
    TimelineEvent,
)
from tests.engine import Engine
from tests.helpers import eventually
from tests.integrations.emulators import jira as jira_hooks
from tests.integrations.emulators import pagerduty as pd_hooks
from tests.integrations.mirrors.conftest import (
    JIRA_WEBHOOK_SECRET,
    OPSGENIE_WEBHOOK_SECRET,
    PD_WEBHOOK_SECRET,
    Tools,
    mirrored_engine,
)
from tests.slack.planted import AWS_KEY_ID, OPENAI_KEY, leaking_alert

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _incident(engine: Engine) -> Incident | None:
    with engine.store.session() as session:
        return session.scalars(select(Incident)).first()


def _status(engine: Engine, ref: str) -> str:
    with engine.store.session() as session:
        return str(session.scalar(select(Incident.status).where(Incident.ref == ref)))


def _issue_key(engine: Engine) -> str | None:
    with engine.store.session() as session:
        return session.scalar(
            select(IncidentExternalRef.external_id).where(IncidentExternalRef.system == "jira")
        )


def _sent(tools: Tools, action: str) -> int:
    return sum(
        1
        for r in tools.pagerduty.requests
        if isinstance(r.body, dict) and r.body.get("event_action") == action
    )


async def _opened(engine: Engine, title: str | None = None) -> Incident:
    response = await engine.http.post("/api/v1/alerts", json=leaking_alert(title=title))
    assert response.status_code == 202, response.text

    async def opened() -> Incident | None:
        return _incident(engine)

    return await eventually(opened)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_leak_is_mirrored_and_answers_come_back(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment, tools: Tools
) -> None:
    async with mirrored_engine(tmp_path, database_url, temporal_env, tools) as engine:
        incident = await _opened(engine)
        ref = incident.ref
        assert ref is not None

        async def everywhere() -> bool:
            return bool(
                tools.pagerduty.status(ref) == "triggered"
                and tools.opsgenie.status(ref) == "open"
                and _issue_key(engine)
                and tools.teams.cards
            )

        await eventually(everywhere, within=20)
        trigger = tools.pagerduty.alerts[ref]["trigger"]
        assert trigger["payload"]["severity"] == "critical"
        assert trigger["dedup_key"] == ref
        key = _issue_key(engine)
        assert key is not None
        issue = tools.jira.issues[key]["fields"]
        assert issue["summary"].startswith(ref)
        assert issue["labels"] == ["genai", "smokejumper", ref]
        # Masked, not removed: the responder recognises the key.
        assert "sk-proj-…" in issue["summary"]
        assert len(tools.teams.cards) == 1

        # Acknowledged in PagerDuty: a signed V3 webhook.
        body, headers = pd_hooks.webhook("incident.acknowledged", ref, PD_WEBHOOK_SECRET)
        answer = await engine.http.post("/webhooks/pagerduty", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "incident": ref,
            "applied": True,
            "detail": "status open → acknowledged",
        }
        assert _status(engine, ref) == "acknowledged"
        with engine.store.session() as session:
            entry = session.scalars(
                select(TimelineEvent).where(
                    TimelineEvent.kind == "incident.status", TimelineEvent.actor.like("pagerduty:%")
                )
            ).one()
            assert entry.data["via"] == "pagerduty"
            assert session.scalar(
                select(AuditEntry.id).where(AuditEntry.entry_key == f"mirror:{entry.event_key}")
            )
        # The same delivery again (PagerDuty retries) changes nothing.
        again = await engine.http.post("/webhooks/pagerduty", content=body, headers=headers)
        assert again.json()["applied"] is False

        # Jira follows (the mapping: acknowledged → In Progress); PagerDuty is not told
        # what it told us.
        async def in_progress() -> bool:
            return tools.jira.status(key) == "In Progress"

        await eventually(in_progress)
        assert _sent(tools, "acknowledge") == 0

        # Opsgenie's relay is another workflow: it follows in its own time.
        async def acked() -> bool:
            return tools.opsgenie.status(ref) == "acked"

        await eventually(acked)

        # A comment in Jira comes back as a note.
        body, headers = jira_hooks.comment_webhook(
            key, "20001", "Customer support confirmed the key is rotated.", JIRA_WEBHOOK_SECRET
        )
        answer = await engine.http.post("/webhooks/jira", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["applied"] is True
        with engine.store.session() as session:
            note = session.scalars(select(IncidentNote)).one()
        assert (note.via, note.author) == ("jira", "jira:Erin Analyst")

        # A forged one is refused and changes nothing.
        forged, headers = jira_hooks.comment_webhook(key, "20002", "forged", "not-the-secret")
        refused = await engine.http.post("/webhooks/jira", content=forged, headers=headers)
        assert refused.status_code == 401
        body, headers = pd_hooks.webhook("incident.resolved", ref, "not-the-secret")
        refused = await engine.http.post("/webhooks/pagerduty", content=body, headers=headers)
        assert refused.status_code == 401
        assert _status(engine, ref) == "acknowledged"

        # A responder's note (it quotes the leaked key) reaches Jira and Opsgenie, masked.
        written = await engine.http.post(
            f"/api/v1/incidents/{ref}/notes",
            json={"text": f"Rotated {OPENAI_KEY}; {AWS_KEY_ID} was never used."},
        )
        assert written.status_code == 201, written.text

        async def commented() -> list[str]:
            return [c for c in tools.jira.comments(key) if "Rotated" in c]

        comment = (await eventually(commented))[0]
        assert "sk-proj-…" in comment and "AKIA…" in comment
        # The note from Jira was not sent back to Jira.
        assert not any("Customer support" in c for c in tools.jira.comments(key))

        # Closed here: PagerDuty resolves, Jira is Done, Opsgenie closes.
        closed = await engine.http.post(f"/api/v1/incidents/{ref}/close", json={"reason": "done"})
        assert closed.status_code == 200, closed.text

        async def resolved() -> bool:
            return bool(
                tools.pagerduty.status(ref) == "resolved"
                and tools.jira.status(key) == "Done"
                and tools.opsgenie.status(ref) == "closed"
            )

        await eventually(resolved)
        assert len(tools.teams.cards) == 1
        # Over: each relay ends once it has delivered everything.
        for system in ("pagerduty", "jira"):
            relay = engine.client.get_workflow_handle(
                mirror_relay_id(system, incident.workflow_id, incident.id)
            )
            assert await asyncio.wait_for(relay.result(), timeout=10) > 0


@SQLITE
async def test_an_outage_of_one_tool_delays_only_its_copy(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment, tools: Tools
) -> None:
    tools.pagerduty.fail("POST", "/v2/enqueue", 503, times=3)
    async with mirrored_engine(tmp_path, database_url, temporal_env, tools) as engine:
        incident = await _opened(engine, title="Leak, see [the fix](https://evil.example/x)")
        ref = incident.ref
        assert ref is not None

        async def others() -> bool:
            return bool(_issue_key(engine) and tools.teams.cards)

        await eventually(others)
        # Alert text stays text in the card: no link made of it.
        shown = tools.teams.cards[0]["body"][1]["text"]
        assert "the fix" in shown and "](" not in shown

        async def revoked() -> bool:
            with engine.store.session() as session:
                return bool(
                    session.scalar(
                        select(TimelineEvent.id).where(TimelineEvent.kind == "step.completed")
                    )
                )

        await eventually(revoked)

        async def paged() -> bool:
            return tools.pagerduty.status(ref) == "triggered"

        # Retried with backoff (1 s, 2 s, 4 s ...) until PagerDuty answers.
        await eventually(paged, within=30)
        assert tools.pagerduty.calls("POST", "/v2/enqueue") >= 4
        assert tools.pagerduty.alerts[ref]["triggers"] == 1


@SQLITE
async def test_opsgenie_webhook_needs_its_token(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment, tools: Tools
) -> None:
    async with mirrored_engine(tmp_path, database_url, temporal_env, tools) as engine:
        incident = await _opened(engine)
        ref = incident.ref
        assert ref is not None

        # Opsgenie calls back about an alert it holds: the mirror's copy is there first.
        async def mirrored() -> bool:
            return tools.opsgenie.status(ref) == "open"

        await eventually(mirrored, within=20)
        payload = {
            "action": "Close",
            "alert": {"alertId": "8418d193-2dab-4490", "alias": ref, "username": "sam@x.com"},
            "source": {"name": "web", "type": "web"},
        }
        refused = await engine.http.post(
            "/webhooks/opsgenie", json=payload, headers={"x-smokejumper-token": "wrong"}
        )
        assert refused.status_code == 401
        await asyncio.sleep(0)
        assert _status(engine, str(ref)) != "resolved"
        answer = await engine.http.post(
            "/webhooks/opsgenie",
            json=payload,
            headers={"x-smokejumper-token": OPSGENIE_WEBHOOK_SECRET},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["applied"] is True
        assert _status(engine, str(ref)) == "resolved"
        bad = await engine.http.post(
            "/webhooks/opsgenie",
            json={"action": "Close", "alert": {"alias": ref}},
            headers={"x-smokejumper-token": OPSGENIE_WEBHOOK_SECRET},
        )
        assert bad.status_code == 400
        assert "alert.alertId" in bad.json()["detail"]
