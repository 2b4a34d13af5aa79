"""Fixtures of the playbook tests: the embedded control plane over a temporary data dir,
the control-plane activities bound to a store, the API in process, and the engine driven
as responders drive it: over HTTP, or from Slack (emulated) with signed clicks."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.control_plane import ControlPlaneActivities
from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from integrations.slack.emulator import SlackEmulator
from smokejumper.app import create_app
from smokejumper.config import Settings
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.incidents import SIGNAL_DECIDE
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import load_inventory
from smokejumper.sdk.approvals import DecisionRequest
from smokejumper.store.db import Store
from smokejumper.store.tables import Action, EvidenceItem
from testkit.pytest_plugin import playbook_harness
from tests.controls.conftest import CONTROLS_TOKEN, settings
from tests.engine import Engine, engine_on
from tests.helpers import eventually
from tests.inventory.helpers import example_data
from tests.slack.conftest import (
    BOB,
    CAROL,
    click,
    new_trigger_id,
    post_signed,
    scanned_emulator,
    slack_config,
    submit,
    terminate_relays,
)
from tests.slack.planted import leaks

__all__ = ["playbook_harness", "settings"]

AUTH = {"Authorization": f"Bearer {CONTROLS_TOKEN}"}


@pytest.fixture
def controls(migrated_store: Store, settings: Settings) -> ControlPlaneActivities:
    return ControlPlaneActivities(migrated_store, settings)


@pytest_asyncio.fixture
async def api(settings: Settings, migrated_store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, migrated_store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://smokejumper", headers=AUTH
    ) as http:
        yield http


async def run(function: Any, action: Any) -> ActionResult:
    result: ActionResult = await ActivityEnvironment().run(function, action)
    return result


async def check(
    api: httpx.AsyncClient, headers: dict[str, str] | None = None, **params: Any
) -> dict[str, Any]:
    response = await api.get("/api/v1/controls/check", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- the engine, end to end -----------------------------------------------------------------

APPROVERS = {
    "security-oncall": ["operator", "bob"],
    "dpo": ["operator"],
    "incident-commanders": ["operator", "bob"],
    "ml-platform": ["operator", "carol"],
}
# Planted in alerts and evidence: none of them may appear in a report or a notification.
LEAKED_KEY = "sj_live_ab9f8e7d6c5b4a3210"
LEAKED_EMAIL = "jane.doe@example.com"
LEAKED_CARD = "4111 1111 1111 1111"
LEAKED_DSN_PASSWORD = "Zq8vR2pLx"
SECRETS = (LEAKED_KEY, LEAKED_EMAIL, LEAKED_CARD, LEAKED_DSN_PASSWORD, "4111111111111111")
# The approvers above as the Slack workspace knows them (`slack.users`).
OPERATOR = "U0OPERAT1"
SLACK_USERS = {OPERATOR: "operator", BOB: "bob", CAROL: "carol"}


def inventory(**changes: Any) -> dict[str, Any]:
    """The example inventory, with support-bot high-risk and a key that may publish models."""
    data = example_data()
    data["applications"][0]["high_risk"] = True
    data["api_keys"].append(
        {
            "key_id": "key-ml-publish",
            "provider": "local",
            "prefix": "sj_ci_pub",
            "owner": "ml-platform@example.com",
            "scopes": ["registry:write"],
        }
    )
    data.update(changes)
    return data


@dataclass
class Responder:
    """An engine with the built-in playbooks, the example inventory and the local control
    plane, driven as responders and tools drive it: over HTTP, and, when `slack` is set,
    from Slack: clicks on the buttons the engine posted, signed as Slack signs them."""

    engine: Engine
    slack: SlackEmulator | None = None
    # (incident, step) -> (channel, ts) of its approval message: once decided, its buttons
    # (by which it is found) are gone.
    _asked: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # Messages the session's emulator held before this engine started. Every test's
    # database numbers its incidents from 1, so an earlier test's INC-1 approval, left
    # undecided, carries the same button value as this one's.
    _earlier: frozenset[tuple[str, str]] = frozenset()

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    async def send(self, alert: dict[str, Any], source: str | None = None) -> str:
        path = "/api/v1/alerts" + (f"/{source}" if source else "")
        response = await self.engine.http.post(path, json=alert)
        assert response.status_code == 202, response.text
        ref: str = response.json()["incident_id"]
        return ref

    async def detail(self, ref: str) -> dict[str, Any]:
        response = await self.engine.http.get(f"/api/v1/incidents/{ref}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def timeline(self, ref: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = (await self.detail(ref))["timeline"]
        return events

    async def wait_for(self, ref: str, kind: str, step: str | None = None) -> dict[str, Any]:
        async def seen() -> dict[str, Any] | None:
            for event in await self.timeline(ref):
                if event["kind"] == kind and (step is None or event["step"] == step):
                    return event
            return None

        return await eventually(seen, within=60)

    async def wait_for_approval(self, ref: str, step: str) -> None:
        async def pending() -> bool:
            live = (await self.detail(ref)).get("live") or {}
            return step in live.get("pending_approvals", [])

        await eventually(pending, within=60)

    async def decide(self, ref: str, step: str, approve: bool, reason: str = "") -> dict[str, Any]:
        await self.wait_for_approval(ref, step)
        response = await self.engine.http.post(
            f"/api/v1/incidents/{ref}/approvals/{step}",
            json={"approve": approve, "reason": reason},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def continued_as_new(self, ref: str) -> None:
        """Wait until the incident's playbook has finished and its run continued as new."""
        started = await self.wait_for(ref, "playbook.started")
        await self.wait_for(ref, "playbook.finished")
        handle = self.engine.client.get_workflow_handle(started["data"]["workflow_id"])

        async def continued() -> bool:
            return (await handle.describe()).run_id != started["data"]["run_id"]

        await eventually(continued, within=30)

    async def done_by_hand(self, ref: str, step: str, reason: str) -> None:
        """Answer the hand-off of `step` (its question `<step> not done` or `… failed`):
        done by hand, as `reason` says."""
        asked = f"{step} not done"
        await self.wait_for_approval(ref, asked)
        response = await self.engine.http.post(
            f"/api/v1/incidents/{ref}/approvals/{asked}", json={"choice": "done", "reason": reason}
        )
        assert response.status_code == 200, response.text
        await self.wait_for(ref, "step.done_by_hand", step=step)

    async def vote_as(self, ref: str, step: str, actor: str) -> None:
        """A second person's vote, as a chat integration sends it (by signal)."""
        detail = await self.detail(ref)
        handle = self.engine.client.get_workflow_handle(detail["workflow_id"])
        await handle.signal(
            SIGNAL_DECIDE, DecisionRequest(step=step, approve=True, actor=actor, via="test")
        )

    # -- Slack ---------------------------------------------------------------------------

    @property
    def emulator(self) -> SlackEmulator:
        assert self.slack is not None, "this responder's engine has no Slack"
        return self.slack

    async def approval_message(self, ref: str, step: str) -> tuple[str, dict[str, Any]]:
        """The channel and the approval message the engine posted for `step`, found by the
        value its buttons carry back; a copy, as the responder's client shows it."""

        async def posted() -> tuple[str, dict[str, Any]] | None:
            if (ref, step) in self._asked:
                channel, ts = self._asked[ref, step]
                return channel, copy.deepcopy(self.emulator.message(channel, ts))
            for channel in self.emulator.recorded()["channels"]:
                for message in channel["messages"]:
                    if (str(channel["id"]), str(message["ts"])) in self._earlier:
                        continue
                    if f"{ref}|{step}" in _button_values(message):
                        self._asked[ref, step] = str(channel["id"]), str(message["ts"])
                        return str(channel["id"]), copy.deepcopy(message)
            return None

        return await eventually(posted, within=60)

    async def approve_in_slack(self, ref: str, step: str, user: str = OPERATOR) -> None:
        """`user` clicks Approve on the step's message; returns once the vote is recorded."""
        votes = await self._votes(ref, step, user)
        mark = await self.click_approve(ref, step, user)
        await self._vote_recorded(ref, step, user, mark, votes)

    async def click_approve(self, ref: str, step: str, user: str) -> int:
        """Only the click; returns the emulator's mark from before it (for `told`)."""
        channel, message = await self.approval_message(ref, step)
        mark = self.emulator.mark()
        await self._interact(click(message, channel, user, "approve", users=SLACK_USERS))
        return mark

    async def told(self, user: str, mark: int) -> str:
        """What Slack showed only `user` after `mark`."""

        async def said() -> str | None:
            return next(
                (
                    str(r.params.get("text"))
                    for r in self.emulator.since(mark, "chat.postEphemeral")
                    if r.params.get("user") == user
                ),
                None,
            )

        return await eventually(said)

    async def deny_in_slack(self, ref: str, step: str, reason: str, user: str = OPERATOR) -> None:
        """`user` clicks Deny, and submits the modal it opens with `reason`."""
        await self.answer_in_slack(ref, step, "deny", reason, user)

    async def answer_in_slack(
        self, ref: str, step: str, button: str, note: str, user: str = OPERATOR
    ) -> None:
        """`user` clicks `button` (deny, or a hand-off's done or skip), and submits the
        modal it opens with `note`."""
        channel, message = await self.approval_message(ref, step)
        mark, votes = self.emulator.mark(), await self._votes(ref, step, user)
        trigger = new_trigger_id()
        await self._interact(
            click(message, channel, user, button, users=SLACK_USERS, trigger_id=trigger)
        )

        async def opened() -> dict[str, Any] | None:
            return next(
                (
                    r.params["view"]
                    for r in self.emulator.since(mark, "views.open")
                    if r.params.get("trigger_id") == trigger
                ),
                None,
            )

        view = await eventually(opened)
        await self._interact(submit(view, user, note, users=SLACK_USERS))
        await self._vote_recorded(ref, step, user, mark, votes)

    async def decided_in_slack(self, ref: str, step: str) -> str:
        """The step's approval message once its buttons are replaced by the verdict."""
        channel, message = await self.approval_message(ref, step)

        async def replaced() -> str | None:
            now = self.emulator.message(channel, message["ts"])
            if any(block["type"] == "actions" for block in now["blocks"]):
                return None
            return " ".join(_texts(now["blocks"]))

        return await eventually(replaced, within=60)

    async def slack_messages(self, ref: str, containing: str) -> list[dict[str, Any]]:
        """The messages of the incident's channel, once one holds `containing`."""
        number = ref.split("-", 1)[1].lower()
        name = f"{self.settings.slack.channel_prefix}-{number}-"

        async def posted() -> list[dict[str, Any]] | None:
            for channel in self.emulator.recorded()["channels"]:
                messages: list[dict[str, Any]] = [
                    copy.deepcopy(m)
                    for m in channel["messages"]
                    if (str(channel["id"]), str(m["ts"])) not in self._earlier
                ]
                if str(channel["name"] or "").startswith(name) and any(
                    containing in m["text"] for m in messages
                ):
                    return messages
            return None

        return await eventually(posted, within=60)

    def slack_leaks(self) -> list[tuple[str, str]]:
        """Planted secrets found in what Slack received so far."""
        return leaks([r.to_json() for r in self.emulator.since(0)], SECRETS)

    async def _interact(self, body: str) -> None:
        response = await post_signed(self.engine.http, "/slack/interactions", body)
        assert response.status_code == 200, response.text
        assert not response.content, response.text  # an answer here is a refusal shown in Slack

    async def _votes(self, ref: str, step: str, user: str) -> int:
        """How many votes `user` has on the step's timeline."""
        return sum(
            1
            for event in await self.timeline(ref)
            if event["kind"] == "approval.vote"
            and event["step"] == step
            and event["actor"] == SLACK_USERS[user]
        )

    async def _vote_recorded(self, ref: str, step: str, user: str, mark: int, before: int) -> None:
        """Slack is answered at once and the vote goes to the playbook afterwards: wait for
        it on the timeline, and fail with what the clicker was told if it was refused."""

        async def recorded() -> bool:
            for said in self.emulator.since(mark, "chat.postEphemeral"):
                text = str(said.params.get("text"))
                if said.params.get("user") == user and "more approval" not in text:
                    raise AssertionError(f"Slack told {SLACK_USERS[user]}: {text}")
            return await self._votes(ref, step, user) > before

        await eventually(recorded, within=60)

    async def report(self, ref: str, fmt: str = "md") -> str:
        response = await self.engine.http.get(
            f"/api/v1/incidents/{ref}/report", params={"format": fmt}
        )
        assert response.status_code == 200, response.text
        return response.text

    def actions(self, action: str) -> list[Action]:
        with self.engine.store.session() as session:
            return list(session.scalars(select(Action).where(Action.action == action)))

    def evidence(self) -> list[EvidenceItem]:
        with self.engine.store.session() as session:
            return list(session.scalars(select(EvidenceItem)))


def _messages_in(emulator: SlackEmulator | None) -> frozenset[tuple[str, str]]:
    if emulator is None:
        return frozenset()
    return frozenset(
        (str(channel["id"]), str(message["ts"]))
        for channel in emulator.recorded()["channels"]
        for message in channel["messages"]
    )


def _button_values(message: dict[str, Any]) -> list[str]:
    return [
        str(element.get("value"))
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def _texts(blocks: list[dict[str, Any]]) -> list[str]:
    found = []
    for block in blocks:
        for part in [block.get("text"), *block.get("elements", []), *block.get("fields", [])]:
            if isinstance(part, dict) and "text" in part:
                found.append(str(part["text"]))
    return found


@pytest.fixture(scope="session")
def slack_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackEmulator]:
    """The Slack the playbook tests' engines post to; none of SECRETS may reach it."""
    with scanned_emulator(tmp_path_factory.mktemp("slack"), SLACK_USERS, SECRETS) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def slack_responder(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    slack_emulator: SlackEmulator,
) -> AsyncIterator[Responder]:
    """The responder's engine with Slack on the emulator: approvals are answered there."""
    async with responder_on(tmp_path, database_url, temporal_env, slack=slack_emulator) as running:
        yield running


@pytest_asyncio.fixture
async def responder(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Responder]:
    async with responder_on(tmp_path, database_url, temporal_env) as running:
        yield running


@contextlib.asynccontextmanager
async def responder_on(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    slack: SlackEmulator | None = None,
    **settings: Any,
) -> AsyncIterator[Responder]:
    """The responder's engine, with these settings besides the approvers; with Slack on
    `slack` when given, its users mapped to the approvers."""
    if slack is not None:
        settings["slack"] = slack_config(
            slack,
            tmp_path,
            users=SLACK_USERS,
            oncall=["group:security-oncall"],
            escalate_to=["group:incident-commanders"],
        )
    async with engine_on(
        tmp_path,
        database_url,
        temporal_env,
        approvers=APPROVERS,
        **settings,
    ) as engine:
        import_inventory(engine.store, load_inventory(inventory()))
        keys = LocalKeys(engine.settings.local_keys_file)
        for key_id in ("key-support-web", "key-partner-acme", "key-eval-ci", "key-ml-publish"):
            keys.create(key_id)
        endpoints = LocalEndpoints(engine.settings.local_endpoints_file)
        for endpoint in ("support-bot-prod", "support-bot-staging"):
            endpoints.create(endpoint)
        try:
            yield Responder(engine, slack, _earlier=_messages_in(slack))
        finally:
            if slack is not None:
                await terminate_relays(engine)
