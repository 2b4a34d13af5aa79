"""Ids a tool sends back are stored in business keys of bounded length: an id longer than
any tool's is refused naming the field (on PostgreSQL it used to overflow the column)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smokejumper.store.tables import IncidentExternalRef
from tests.engine import in_process_api
from tests.helpers import insert_incident
from tests.integrations.emulators import jira as jira_hooks
from tests.integrations.emulators import pagerduty as pd_hooks
from tests.integrations.mirrors.test_webhooks import JIRA_SECRET, PD_SECRET, _configured

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
LONG = "9" * 5_000


async def test_an_id_longer_than_any_tools_is_refused_naming_the_field(
    tmp_path: Path, database_url: str
) -> None:
    configured = _configured(tmp_path)
    jira = configured["jira"]
    assert isinstance(jira, dict)
    jira["statuses"] = {"Done": "resolved"}
    async with in_process_api(tmp_path, database_url, **configured) as (
        http,
        store,
        _,
    ):
        start = insert_incident(store, playbook="p", fingerprint="fp-long")
        with store.transaction() as session:
            session.add(
                IncidentExternalRef(
                    incident_id=start.incident_id, system="jira", external_id="SEC-" + "1" * 190
                )
            )
        event = {
            "event": {
                "id": LONG,
                "event_type": "incident.acknowledged",
                "data": {"incident_key": start.ref},
            }
        }
        raw = json.dumps(event).encode()
        answer = await http.post(
            "/webhooks/pagerduty", content=raw, headers=pd_hooks.sign(raw, PD_SECRET)
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["detail"].startswith("event.id: ")
        key = "SEC-" + "1" * 190
        body, headers = jira_hooks.comment_webhook(key, LONG, "hello", JIRA_SECRET)
        answer = await http.post("/webhooks/jira", content=body, headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.json()["detail"].startswith("comment.id: ")
        # The longest ids accepted still fit every key they go into.
        event["event"]["id"] = "8" * 80
        raw = json.dumps(event).encode()
        answer = await http.post(
            "/webhooks/pagerduty", content=raw, headers=pd_hooks.sign(raw, PD_SECRET)
        )
        assert answer.json()["applied"] is True
        body, headers = jira_hooks.comment_webhook(key, "6" * 80, "hello", JIRA_SECRET)
        answer = await http.post("/webhooks/jira", content=body, headers=headers)
        assert answer.json()["applied"] is True
        for change, status in (("7" * 81, 400), ("7" * 80, 200)):
            payload = {
                "webhookEvent": "jira:issue_updated",
                "issue": {"key": key},
                "changelog": {"id": change, "items": [{"field": "status", "toString": "Done"}]},
            }
            raw = json.dumps(payload).encode()
            answer = await http.post(
                "/webhooks/jira", content=raw, headers=jira_hooks.sign(raw, JIRA_SECRET)
            )
            assert answer.status_code == status, answer.text
        assert answer.json()["detail"] == "status acknowledged → resolved"
