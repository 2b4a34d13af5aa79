"""Fixtures of the playbook tests: the embedded control plane over a temporary data dir,
the control-plane activities bound to a store, and the API in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import ActivityEnvironment

from activities.control_plane import ControlPlaneActivities
from smokejumper.api.app import create_app
from smokejumper.config import Settings, load_settings
from smokejumper.domain.containment import ActionResult
from smokejumper.store.db import Store

CONTROLS_TOKEN = "controls-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {CONTROLS_TOKEN}"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", api={"controls_token": CONTROLS_TOKEN})


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


async def check(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await api.get("/api/v1/controls/check", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
