"""A running engine with console users: alice (responder, on call), rita (responder, not on
call), victor (viewer), root (admin), and an API token for each but root."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from integrations.sources.registry import NORMALIZERS
from smokejumper.app import create_app
from smokejumper.config import Settings
from smokejumper.security.users import Role, add_user, issue_token
from smokejumper.store.db import Store
from tests.console.console_playbooks import HandOffNothingToActOn, IsolateOnApproval
from tests.engine import Engine, engine_on
from tests.helpers import eventually
from tests.test_end_to_end import example

PASSWORDS = {
    "alice": "alice-password-1",
    "rita": "rita-password-12",
    "victor": "victor-password-1",
    "root": "root-password-12",
}
# rita is a responder but not on call: the playbook's approvers do not name her.
ROLES = {"alice": Role.RESPONDER, "rita": Role.RESPONDER, "victor": Role.VIEWER, "root": Role.ADMIN}


@dataclass
class Console:
    engine: Engine
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.engine.base_url

    def as_user(self, name: str) -> httpx.AsyncClient:
        """An API client holding `name`'s API token."""
        return httpx.AsyncClient(
            base_url=self.url, timeout=30, headers={"authorization": f"Bearer {self.tokens[name]}"}
        )

    async def open_incident(self) -> str:
        """An incident whose playbook has captured evidence and waits for approval."""
        accepted = await self.engine.http.post(
            "/api/v1/alerts", json=example(kind="data_leakage", dedup_key=uuid.uuid4().hex)
        )
        assert accepted.status_code == 202, accepted.text
        ref: str = accepted.json()["incident_id"]

        async def waiting() -> dict[str, Any] | None:
            live = (await self.engine.http.get(f"/api/v1/incidents/{ref}")).json()["live"]
            return live if live and live["pending_approvals"] == ["isolate"] else None

        await eventually(waiting)
        return ref


def asgi_client(
    settings: Settings, store: Store, address: str = "127.0.0.1", token: str | None = None
) -> httpx.AsyncClient:
    """The app in this process, called as if from `address` (a proxy, say)."""
    app = create_app(settings, store, normalizers=NORMALIZERS)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=transport, base_url="http://console", headers=headers)


def add_users(store: Store) -> dict[str, str]:
    tokens: dict[str, str] = {}
    with store.transaction() as session:
        for name, role in ROLES.items():
            user = add_user(session, name, role, PASSWORDS[name])
            if name != "root":
                tokens[name] = issue_token(session, user, "tests")[1]
    return tokens


@pytest_asyncio.fixture
async def console(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Console]:
    async with engine_on(
        tmp_path,
        database_url,
        temporal_env,
        workflows=[IsolateOnApproval, HandOffNothingToActOn],
        approvers={"oncall": ["alice", "root"]},
        routes=[
            {"playbook": "test-console-isolate", "kinds": ["data_leakage"]},
            {"playbook": "test-console-handoff", "kinds": ["model_extraction"]},
        ],
        console={"trusted_header": "X-Forwarded-User", "trusted_header_proxies": ["192.0.2.10"]},
    ) as engine:
        yield Console(engine, add_users(engine.store))
