"""Validly signed Slack requests whose content is hostile or broken: a deny modal's
`private_metadata` that is not JSON or not ours, payloads of the wrong shape, nested
thousands of levels deep, holding NaN. Each is answered 400 naming the field, nothing
crashes, and the log names fields only, never what a responder or the payload wrote."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smokejumper.intake.json_body import storable
from tests.engine import in_process_api
from tests.helpers import free_port
from tests.slack.conftest import ALICE, SIGNING_SECRET, USERS, post_signed
from tests.slack.hostile_payloads import SECRET, deny_submission, interaction_payloads


def slack_settings(tmp_path: Path) -> dict[str, Any]:
    """Slack on, its Web API unreachable: nothing here may need to call it."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "bot").write_text("xoxb-never-used")
    (secrets / "signing").write_text(SIGNING_SECRET)
    return {
        "bot_token": f"file:{secrets / 'bot'}",
        "signing_secret": f"file:{secrets / 'signing'}",
        "base_url": f"http://127.0.0.1:{free_port()}/api/",
        "triage_channel": "CTRIAGE01",
        "users": USERS,
    }


@pytest_asyncio.fixture
async def slack_api(tmp_path: Path, sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_api(tmp_path, sqlite_url, slack=slack_settings(tmp_path)) as api:
        yield api[0]


def form(payload: Any) -> str:
    return urlencode({"payload": payload if isinstance(payload, str) else json.dumps(payload)})


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        (f"not json {SECRET}", "view.private_metadata"),
        ('["INC-2026-0001", "isolate"]', "view.private_metadata"),
        ('{"ref": "INC-2026-0001", "step": "isolate"}', "view.private_metadata.channel"),
        ('{"ref": 1, "step": "isolate", "channel": "C1"}', "view.private_metadata.ref"),
        ('{"ref": "INC-1", "step": "s", "channel": {"id": "C1"}}', "view.private_metadata.channel"),
        ('{"ref": "", "step": "s", "channel": "C1"}', "view.private_metadata.ref"),
        ('{"ref":"I","step":"s","channel":"C","choice":"x"}', "view.private_metadata.choice"),
        ("[" * 10_000 + "]" * 10_000, "view.private_metadata"),
        (["not", "a", "string"], "view.private_metadata"),
    ],
)
async def test_a_bad_private_metadata_is_a_400_naming_it_and_logs_no_content(
    slack_api: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    metadata: Any,
    field: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await post_signed(slack_api, "/slack/interactions", form(deny_submission(metadata)))
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]
    assert SECRET not in response.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"Slack interaction refused: payload does not fit Slack's format at: {field}" in logged
    assert SECRET not in logged


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "block_actions", "user": "U0ALICE01"}, "user"),
        ({"type": "block_actions", "user": {"id": ALICE}, "actions": 5}, "actions"),
        ({"type": "block_actions", "actions": [SECRET]}, "actions.0"),
        ({"type": "block_actions", "actions": [{"value": ["INC-1|step"]}]}, "actions.0.value"),
        ({"type": "block_actions", "channel": "C1"}, "channel"),
        ({"type": "view_submission", "view": []}, "view"),
        ({"type": "view_submission"}, "view"),
        ({"type": "view_submission", "view": {"state": {"values": SECRET}}}, "view.state.values"),
    ],
)
async def test_a_payload_of_another_shape_is_a_400_naming_the_field(
    slack_api: httpx.AsyncClient, payload: dict[str, Any], field: str
) -> None:
    response = await post_signed(slack_api, "/slack/interactions", form(payload))
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == f"payload does not fit Slack's format at: {field}"


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ("[" * 100_000 + "]" * 100_000, "payload is nested too deeply"),
        ('{"type": "block_actions", "x": ' + "[" * 500 + "]" * 500 + "}", "nested too deeply"),
        ('{"type": "block_actions", "actions": [], "score": NaN}', "at: score"),
        ("not json", "payload is not valid JSON"),
        ('"a string"', "payload: must be a JSON object"),
    ],
)
async def test_a_payload_that_is_no_usable_json_is_a_400(
    slack_api: httpx.AsyncClient, payload: str, detail: str
) -> None:
    response = await post_signed(slack_api, "/slack/interactions", form(payload))
    assert response.status_code == 400, response.text
    assert detail in response.json()["detail"]


async def test_a_kind_smokejumper_does_not_handle_is_acknowledged(
    slack_api: httpx.AsyncClient,
) -> None:
    for payload in ({"type": "shortcut", "user": 5}, {"type": "view_closed"}, {"no": "type"}):
        response = await post_signed(slack_api, "/slack/interactions", form(payload))
        assert response.status_code == 200, response.text
    # A well-formed deny with an empty reason is asked for one, as before.
    meta = json.dumps({"ref": "INC-2026-0001", "step": "isolate", "channel": "C1"})
    empty = deny_submission(meta)
    empty["view"]["state"]["values"]["reason"]["reason"]["value"] = "  "
    response = await post_signed(slack_api, "/slack/interactions", form(empty))
    assert response.json() == {
        "response_action": "errors",
        "errors": {"reason": "Say why you deny."},
    }


def test_any_signed_interaction_or_command_is_answered_200_or_400(
    tmp_path: Path, sqlite_url: str
) -> None:
    """Property: whatever a validly signed request holds, the answer is Slack's 200 or a 400,
    never a 5xx, and nothing raises out of the app."""
    loop = asyncio.new_event_loop()
    api = in_process_api(tmp_path, sqlite_url, slack=slack_settings(tmp_path))
    http, _, _ = loop.run_until_complete(api.__aenter__())
    sent = iter(range(10**9))

    def post(path: str, fields: dict[str, str]) -> httpx.Response:
        # A field of its own per request: the same body twice would be a replay (401).
        body = urlencode({**fields, "n": str(next(sent))})
        return loop.run_until_complete(post_signed(http, path, body))

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(payload=interaction_payloads(), text=st.text(max_size=40))
    def send(payload: str, text: str) -> None:
        response = post("/slack/interactions", {"payload": payload})
        assert response.status_code in (200, 400), (response.status_code, response.text)
        command = {"user_id": ALICE, "channel_id": "C0INCIDENT", "text": text}
        response = post("/slack/commands", command)
        expected = 200 if storable(text) else 400  # NUL or a surrogate: refused, named
        assert response.status_code == expected, (response.status_code, response.text)

    try:
        send()
    finally:
        loop.run_until_complete(api.__aexit__(None, None, None))
        loop.close()


async def test_a_nul_in_a_slack_form_is_a_400_naming_the_field(
    slack_api: httpx.AsyncClient,
) -> None:
    """PostgreSQL refuses NUL even as a lookup's parameter (`status INC\\x00`)."""
    body = urlencode({"user_id": ALICE, "channel_id": "C1", "text": "status INC-2026-0001\x00"})
    response = await post_signed(slack_api, "/slack/commands", body)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("text: NUL characters")
