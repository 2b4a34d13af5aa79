"""Fixtures of the playbook tests: the embedded control plane over a temporary data dir,
the control-plane activities bound to a store, and the API in process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
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
from smokejumper.api.app import create_app
from smokejumper.config import Settings
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.incidents import SIGNAL_DECIDE
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import load_inventory
from smokejumper.sdk.approvals import DecisionRequest
from smokejumper.store.db import Store
from smokejumper.store.tables import Action, EvidenceItem
from smokejumper.testing.pytest_plugin import playbook_harness
from tests.controls.conftest import CONTROLS_TOKEN, settings
from tests.engine import Engine, engine_on
from tests.helpers import eventually
from tests.inventory.helpers import example_data

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
    plane, driven as responders and tools drive it: over HTTP."""

    engine: Engine

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

    async def vote_as(self, ref: str, step: str, actor: str) -> None:
        """A second person's vote, as a chat integration sends it (by signal)."""
        detail = await self.detail(ref)
        handle = self.engine.client.get_workflow_handle(detail["workflow_id"])
        await handle.signal(
            SIGNAL_DECIDE, DecisionRequest(step=step, approve=True, actor=actor, via="test")
        )

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


@pytest_asyncio.fixture
async def responder(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Responder]:
    async with responder_on(tmp_path, database_url, temporal_env) as running:
        yield running


@contextlib.asynccontextmanager
async def responder_on(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment, **settings: Any
) -> AsyncIterator[Responder]:
    """The responder's engine, with these settings besides the approvers."""
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
        yield Responder(engine)
