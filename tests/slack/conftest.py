"""Slack tests: one Slack Web API emulator for the session, engines wired to it, signed
requests as Slack sends them, and the leak scan over everything the emulator received."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from integrations.keys.local import LocalKeys
from integrations.slack.emulator import SlackEmulator
from integrations.slack.messages import relay_id
from smokejumper.store.tables import Incident
from tests.engine import Engine, engine_on, terminate_workflows
from tests.slack.planted import PLANTED, leaks
from tests.slack.slack_playbooks import FIRST_KEY, SECOND_KEY, ContainInSlack

SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
ALICE, BOB, CAROL, STRANGER = "U0ALICE01", "U0BOB0001", "U0CAROL01", "U0NOBODY1"
USERS = {ALICE: "alice", BOB: "bob", CAROL: "carol"}


@pytest.fixture(scope="session")
def slack_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackEmulator]:
    """The emulator every Slack test talks to, scanned for the planted secrets at the end."""
    with scanned_emulator(tmp_path_factory.mktemp("slack"), USERS, PLANTED) as emulator:
        yield emulator


@contextmanager
def scanned_emulator(
    folder: Path, users: Mapping[str, str], planted: Sequence[str]
) -> Iterator[SlackEmulator]:
    """A running emulator that knows `users`. At the end every request it recorded is
    scanned for the `planted` secrets; the scan fails on a hit, and also when nothing was
    recorded (a scan of nothing proves nothing)."""
    log_path = folder / "requests.jsonl"
    emulator = SlackEmulator(log_path=log_path)
    emulator.start()
    for user_id, name in users.items():
        emulator.add_user(user_id, name)
    yield emulator
    emulator.stop()
    lines = log_path.read_text(encoding="utf-8").splitlines() if log_path.exists() else []
    assert lines, "the Slack emulator recorded no request: the leak scan would prove nothing"
    hits = leaks(lines, planted)
    assert not hits, f"planted secrets reached Slack: {hits}"


def slack_config(emulator: SlackEmulator, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """The `slack` settings section of a test: secrets as file references, like production."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "bot").write_text(emulator.bot_token)
    (secrets / "signing").write_text(SIGNING_SECRET)
    (secrets / "app").write_text(emulator.app_token)
    config: dict[str, Any] = {
        "bot_token": f"file:{secrets / 'bot'}",
        "signing_secret": f"file:{secrets / 'signing'}",
        "app_token": f"file:{secrets / 'app'}",
        "base_url": emulator.base_url,
        "triage_channel": "CTRIAGE01",
        "incident_channels": True,
        # Unique per test: the emulator lives for the whole session.
        "channel_prefix": f"t{uuid.uuid4().hex[:8]}",
        "oncall": ["group:oncall"],
        "escalate_to": ["group:leads"],
        "users": USERS,
    }
    config.update(extra)
    return config


@asynccontextmanager
async def slack_engine(
    tmp_path: Path,
    database_url: str,
    env: WorkflowEnvironment,
    emulator: SlackEmulator,
    **slack: Any,
) -> AsyncIterator[Engine]:
    """A running engine (worker, API) with Slack on the emulator and the test playbook."""
    async with engine_on(
        tmp_path,
        database_url,
        env,
        workflows=[ContainInSlack],
        slack=slack_config(emulator, tmp_path, **slack),
        approvers={"oncall": ["alice", "bob"], "leads": ["carol"]},
        routes=[{"playbook": ContainInSlack.name, "kinds": ["data_leakage"]}],
    ) as engine:
        keys = LocalKeys(engine.settings.local_keys_file)
        keys.create(FIRST_KEY)
        keys.create(SECOND_KEY)
        try:
            yield engine
        finally:
            await terminate_relays(engine)


async def terminate_relays(engine: Engine) -> None:
    """The incidents' playbooks first: one still running could record an event and so
    start its relay again after the relay was terminated."""
    with engine.store.session() as session:
        rows = session.execute(select(Incident.id, Incident.workflow_id)).all()
    await terminate_workflows(engine.client, {wf for _, wf in rows})
    await terminate_workflows(engine.client, [relay_id(wf, number) for number, wf in rows])


def signed(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Headers Slack sends: `v0=` HMAC-SHA256 of `v0:<timestamp>:<body>`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": f"v0={digest}",
    }


def click(
    message: dict[str, Any],
    channel: str,
    user: str,
    action_id: str,
    *,
    users: Mapping[str, str] = USERS,
    trigger_id: str | None = None,
) -> str:
    """The form body of a `block_actions` interaction: `user` clicked a button of `message`
    (the button's action id and value as posted); `users` names the workspace's users."""
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    button = next(e for e in actions["elements"] if e["action_id"] == action_id)
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": users.get(user, "stranger"), "team_id": "TEMULATOR"},
        "api_app_id": "AEMULATOR",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": "TEMULATOR", "domain": "emulator"},
        "channel": {"id": channel, "name": "incident"},
        "message": message,
        "response_url": "https://hooks.slack.invalid/actions/T/1/x",
        "actions": [
            {
                "action_id": action_id,
                "block_id": actions["block_id"],
                "text": button["text"],
                "value": button["value"],
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def command(text: str, user: str, channel: str = "CTRIAGE01") -> str:
    """The form body of a `/smokejumper` slash command."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": "TEMULATOR",
            "channel_id": channel,
            "user_id": user,
            "user_name": USERS.get(user, "stranger"),
            "command": "/smokejumper",
            "text": text,
            "response_url": "https://hooks.slack.invalid/commands/T/1/x",
            "trigger_id": f"{int(time.time())}.1.{uuid.uuid4().hex[:12]}",
        }
    )


async def post_signed(http: httpx.AsyncClient, path: str, body: str) -> httpx.Response:
    return await http.post(path, content=body, headers=signed(body))


def new_trigger_id() -> str:
    """A trigger id as Slack makes them: what `views.open` must be given for a modal."""
    return f"{int(time.time())}.1.{uuid.uuid4().hex[:12]}"


def submit(
    view: dict[str, Any], user: str, reason: str, *, users: Mapping[str, str] = USERS
) -> str:
    """The form body of a `view_submission`: `user` filled in the modal and pressed submit."""
    payload = {
        "type": "view_submission",
        "team": {"id": "TEMULATOR", "domain": "emulator"},
        "user": {"id": user, "username": users.get(user, "stranger"), "team_id": "TEMULATOR"},
        "api_app_id": "AEMULATOR",
        "trigger_id": f"{int(time.time())}.2.{uuid.uuid4().hex[:12]}",
        "view": {
            **view,
            "id": f"V{uuid.uuid4().hex[:10].upper()}",
            "state": {
                "values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}
            },
        },
    }
    return urlencode({"payload": json.dumps(payload)})
