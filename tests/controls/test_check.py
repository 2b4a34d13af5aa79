"""`GET /api/v1/controls/check` through the real app, with the state changed by the
containment activities and by another process."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from activities.containment import ContainmentActivities
from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from smokejumper.app import create_app
from smokejumper.config import Settings, load_settings
from smokejumper.domain.containment import KeyAction
from smokejumper.store.db import Store
from tests.controls.conftest import CONTROLS_TOKEN, endpoint_action, new_incident_id, run

CHECK = "/api/v1/controls/check"
REPO = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {CONTROLS_TOKEN}"}


@pytest_asyncio.fixture
async def client(settings: Settings, migrated_store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, migrated_store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://smokejumper"
    ) as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


async def check(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get(CHECK, params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_denied_while_contained_and_allowed_after_restore(
    client: httpx.AsyncClient,
    activities: ContainmentActivities,
    keys: LocalKeys,
    endpoints: LocalEndpoints,
    migrated_store: Store,
) -> None:
    keys.create("sk-app-1")
    endpoints.create("chat")
    request = {"key_id": "sk-app-1", "endpoint": "chat", "principal": "user-7"}
    assert await check(client, **request) == {"allowed": True, "reasons": []}

    incident_id = new_incident_id(migrated_store)
    revoke = KeyAction(incident_id=incident_id, provider="local", key_id="sk-app-1")
    await run(activities.revoke_key, revoke)

    denied = await check(client, **request)
    assert denied["allowed"] is False
    assert [(r["code"], r["target"]) for r in denied["reasons"]] == [("key_revoked", "sk-app-1")]

    isolate = endpoint_action(incident_id, "chat")
    await run(activities.isolate_endpoint, isolate)

    denied = await check(client, **request)
    assert [r["code"] for r in denied["reasons"]] == ["key_revoked", "endpoint_isolated"]
    isolated = denied["reasons"][1]
    assert f"by incident {incident_id}" in isolated["message"]
    assert "prompt injection exfiltrating data" in isolated["message"]
    assert isolated["since"] is not None
    # Another endpoint with the revoked key is still denied; the key is what is revoked.
    assert (await check(client, key_id="sk-app-1", endpoint="search"))["allowed"] is False
    assert (await check(client, endpoint="chat"))["allowed"] is False

    await run(activities.restore_key, revoke)
    only_endpoint = await check(client, **request)
    assert [r["code"] for r in only_endpoint["reasons"]] == ["endpoint_isolated"]

    await run(activities.restore_endpoint, isolate)
    assert await check(client, **request) == {"allowed": True, "reasons": []}


async def test_state_written_by_another_process_is_picked_up(
    client: httpx.AsyncClient, endpoints: LocalEndpoints, settings: Settings
) -> None:
    endpoints.create("chat")
    assert (await check(client, endpoint="chat"))["allowed"] is True

    script = (
        "import sys; from pathlib import Path; "
        "from integrations.endpoints.local import LocalEndpoints; "
        "LocalEndpoints(Path(sys.argv[1])).isolate('chat', by='cli', reason='manual')"
    )
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(settings.local_endpoints_file), cwd=REPO
    )
    assert await writer.wait() == 0

    denied = await check(client, endpoint="chat")
    assert denied["allowed"] is False
    assert denied["reasons"][0]["message"] == "endpoint chat is isolated by cli: manual"


async def test_unchanged_files_are_not_read_again(
    client: httpx.AsyncClient, keys: LocalKeys, endpoints: LocalEndpoints
) -> None:
    keys.create("sk-app-2")
    endpoints.create("chat")
    await check(client, key_id="sk-app-2", endpoint="chat")
    view = client.app.state.controls  # type: ignore[attr-defined]
    cached = view.keys.records

    await check(client, key_id="sk-app-2", endpoint="chat")
    assert view.keys.records is cached

    keys.revoke("sk-app-2")
    assert (await check(client, key_id="sk-app-2"))["allowed"] is False
    assert view.keys.records is not cached


async def test_a_state_file_broken_by_hand_keeps_the_last_good_state(
    client: httpx.AsyncClient, keys: LocalKeys
) -> None:
    keys.create("sk-app-3")
    keys.revoke("sk-app-3")
    assert (await check(client, key_id="sk-app-3"))["allowed"] is False

    keys.path.write_text("{ not json", encoding="utf-8")

    assert (await check(client, key_id="sk-app-3"))["allowed"] is False


async def test_unknown_key_and_endpoint_are_allowed(client: httpx.AsyncClient) -> None:
    # Only what the control plane manages can be contained; before any state file exists.
    assert await check(client, key_id="sk-elsewhere", endpoint="x") == {
        "allowed": True,
        "reasons": [],
    }


async def test_the_operator_token_is_accepted(client: httpx.AsyncClient) -> None:
    operator = client.app.state.smokejumper.operator_token  # type: ignore[attr-defined]
    response = await client.get(
        CHECK, params={"key_id": "k"}, headers={"Authorization": f"Bearer {operator}"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {CONTROLS_TOKEN}"},
        {"Authorization": "Bearer "},
    ],
)
async def test_other_credentials_are_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get(CHECK, params={"key_id": "k"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_without_a_controls_token_only_the_operator_gets_in(
    tmp_path: Path, migrated_store: Store
) -> None:
    app = create_app(load_settings(data_dir=tmp_path / "other"), migrated_store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://smokejumper"
    ) as http:
        response = await http.get(CHECK, params={"key_id": "k"}, headers=AUTH)
    assert response.status_code == 401


async def test_nothing_to_check_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get(CHECK, params={}, headers=AUTH)
    assert response.status_code == 422
    assert "key_id" in response.json()["detail"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("key_id=" + "k" * 201, "key_id"), ("&".join(["document=d"] * 101), "document")],
)
async def test_malformed_input_is_422_naming_the_field(
    client: httpx.AsyncClient, query: str, field: str
) -> None:
    response = await client.get(f"{CHECK}?{query}", headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_nul_in_the_query_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{CHECK}?key_id=a%00b", headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "url_nul"


async def test_the_route_stays_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    assert "/api/v1/controls/check" in paths and "/api/v1/controls/filter-rules" in paths
