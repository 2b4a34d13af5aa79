"""Security tests: hostile alerts through the real HTTP API of a running engine (worker,
API, console, Slack on the emulator), read back everywhere they show."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from integrations.slack.emulator import SlackEmulator
from smokejumper.console.context import CSRF_FIELD
from tests.console.conftest import PASSWORDS, add_users
from tests.engine import Engine
from tests.security import payloads
from tests.slack.conftest import slack_emulator, slack_engine

__all__ = ["slack_emulator"]  # the Slack tests' session emulator, with its leak scan


@pytest_asyncio.fixture
async def engine(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    slack_emulator: SlackEmulator,
) -> AsyncIterator[Engine]:
    """The engine with Slack on the emulator and console users (see tests/console)."""
    async with slack_engine(tmp_path, database_url, temporal_env, slack_emulator) as running:
        add_users(running.store)
        yield running


async def send(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> str:
    """POST `body` as exactly these bytes; the incident it opened."""
    response = await http.post(
        path, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 202, response.text
    ref: str = response.json()["incident_id"]
    return ref


async def send_hostile(engine: Engine) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """One generic alert per payload group and one in LLM Guard's format: (incident ref →
    generic alert sent, incident ref → payload of the LLM Guard scan)."""
    generic = {}
    native = {}
    for group, texts in payloads.GROUPS.items():
        alert = payloads.generic_alert(group)
        generic[await send(engine.http, "/api/v1/alerts", alert)] = alert
        joined = " ".join(texts)
        scan = payloads.llm_guard_scan(joined)
        native[await send(engine.http, "/api/v1/alerts/llm-guard", scan)] = joined
    return generic, native


@asynccontextmanager
async def console_client(engine: Engine, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """A console session for `name`, signed in through the form like a browser."""
    async with httpx.AsyncClient(base_url=engine.base_url, timeout=30) as client:
        form = await client.get("/login")
        token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', form.text)
        assert token is not None, form.text
        signed = await client.post(
            "/login",
            data={CSRF_FIELD: token.group(1), "username": name, "password": PASSWORDS[name]},
        )
        assert signed.status_code == 303, signed.text
        yield client
