"""The tools' webhooks, refused as a user would meet them: not configured, unsigned,
forged, malformed, too large, or about an incident that is not ours."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.engine import in_process_api
from tests.integrations.emulators import jira as jira_hooks
from tests.integrations.emulators import pagerduty as pd_hooks

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PD_SECRET = "pd-secret-" + "9" * 20
JIRA_SECRET = "jira-secret-" + "8" * 20


def _configured(tmp_path: Path) -> dict[str, object]:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in {
        "pd": "r" * 32,
        "pd-hook": PD_SECRET,
        "jira": "token",
        "jira-hook": JIRA_SECRET,
    }.items():
        (secrets / name).write_text(value)
    return {
        "pagerduty": {
            "routing_key": f"file:{secrets / 'pd'}",
            "webhook_secret": f"file:{secrets / 'pd-hook'}",
        },
        "jira": {
            "url": "https://acme.atlassian.net",
            "email": "bot@example.com",
            "api_token": f"file:{secrets / 'jira'}",
            "project": "SEC",
            "webhook_secret": f"file:{secrets / 'jira-hook'}",
        },
    }


async def test_a_tool_that_is_not_configured_has_no_webhook(
    tmp_path: Path, database_url: str
) -> None:
    async with in_process_api(tmp_path, database_url) as (http, _, _):
        for tool in ("pagerduty", "jira", "opsgenie"):
            answer = await http.post(f"/webhooks/{tool}", content=b"{}")
            assert answer.status_code == 404
            assert f"{tool}" in answer.json()["detail"]


async def test_unsigned_forged_and_malformed_deliveries_are_refused(
    tmp_path: Path, database_url: str
) -> None:
    async with in_process_api(tmp_path, database_url, **_configured(tmp_path)) as (http, _, _):
        body, headers = pd_hooks.webhook("incident.acknowledged", "INC-2026-0001", PD_SECRET)
        unsigned = await http.post("/webhooks/pagerduty", content=body)
        assert unsigned.status_code == 401
        assert "x-pagerduty-signature" in unsigned.json()["detail"]
        tampered = body.replace(b"incident.acknowledged", b"incident.resolved")
        forged = await http.post("/webhooks/pagerduty", content=tampered, headers=headers)
        assert forged.status_code == 401
        # While a secret is rotated PagerDuty signs with both: either one is accepted.
        _, old = pd_hooks.webhook("x", "y", "an-old-secret")
        both = {
            "x-pagerduty-signature": f"{old['x-pagerduty-signature']},"
            f"{headers['x-pagerduty-signature']}"
        }
        unknown = await http.post("/webhooks/pagerduty", content=body, headers=both)
        assert unknown.status_code == 200
        assert unknown.json() == {
            "incident": None,
            "applied": False,
            "detail": "not an incident of ours",
        }

        async def signed_pd(payload: object) -> httpx.Response:
            raw = json.dumps(payload).encode()
            return await http.post(
                "/webhooks/pagerduty", content=raw, headers=pd_hooks.sign(raw, PD_SECRET)
            )

        assert (await signed_pd([1, 2])).status_code == 400
        missing = await signed_pd({"event": {"event_type": "incident.resolved"}})
        assert missing.status_code == 400
        assert missing.json()["detail"] == "event.id: required (a string)"
        ignored = await signed_pd({"event": {"event_type": "incident.priority_updated"}})
        assert ignored.json()["detail"] == "incident.priority_updated is not acted on"
        raw = b"{not json"
        broken = await http.post(
            "/webhooks/pagerduty", content=raw, headers=pd_hooks.sign(raw, PD_SECRET)
        )
        assert broken.status_code == 400
        huge = await http.post("/webhooks/jira", content=b" " * 1_000_001)
        assert huge.status_code == 413

        body, headers = jira_hooks.comment_webhook("SEC-404", "1", "hello", JIRA_SECRET)
        other = await http.post("/webhooks/jira", content=body, headers=headers)
        assert other.json()["detail"] == "not an issue of ours"
        body, headers = jira_hooks.comment_webhook("SEC-1", "1", "hello", PD_SECRET)
        assert (await http.post("/webhooks/jira", content=body, headers=headers)).status_code == 401
