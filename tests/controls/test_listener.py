"""The controls listener (`api.controls_port`): the check on a port of its own, served
while the API app runs, with the API's refusals and its defences against cheap attacks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from integrations.keys.local import LocalKeys
from integrations.local_state import LocalStateFile
from smokejumper.api.controls_listener import ControlsListener
from smokejumper.app import create_app
from smokejumper.config import ConfigError, Settings, load_settings
from smokejumper.store.db import Store
from tests.controls.conftest import CONTROLS_TOKEN
from tests.helpers import free_port

CHECK = "/api/v1/controls/check"
AUTH = {"Authorization": f"Bearer {CONTROLS_TOKEN}"}


def listener_settings(tmp_path: Path, **api: object) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        api={"controls_token": CONTROLS_TOKEN, "controls_port": free_port(), **api},
    )


@pytest_asyncio.fixture
async def served(tmp_path: Path, migrated_store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """The controls listener of a running API app, and a client over real HTTP to it."""
    settings = listener_settings(tmp_path)
    app = create_app(settings, migrated_store)
    async with app.router.lifespan_context(app):
        port = settings.api.controls_port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield http


async def test_the_check_is_served_on_the_controls_port(
    served: httpx.AsyncClient, tmp_path: Path
) -> None:
    keys = LocalKeys(tmp_path / "data" / "keys.json")
    keys.create("sk-app-1")
    response = await served.get(CHECK, params={"key_id": "sk-app-1", "user": "u-7"}, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"allowed": True, "reasons": []}


async def test_a_revoke_is_seen_by_the_next_check(
    served: httpx.AsyncClient, tmp_path: Path
) -> None:
    # No refresh interval: the write has returned, so the very next check denies.
    keys = LocalKeys(tmp_path / "data" / "keys.json")
    keys.create("sk-app-2")
    assert (await served.get(CHECK, params={"key_id": "sk-app-2"}, headers=AUTH)).json()["allowed"]
    keys.revoke("sk-app-2")
    denied = (await served.get(CHECK, params={"key_id": "sk-app-2"}, headers=AUTH)).json()
    assert denied["allowed"] is False
    assert [(r["code"], r["target"]) for r in denied["reasons"]] == [("key_revoked", "sk-app-2")]
    assert denied["reasons"][0]["since"] is not None


async def test_blocks_and_quarantines_and_rules_are_answered(
    served: httpx.AsyncClient, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    blocked = {"status": "blocked", "changed_at": "2026-01-01T00:00:00+00:00"}
    lapsed = {**blocked, "expires_at": "2000-01-01T00:00:00+00:00"}
    LocalStateFile(data / "principals.json", "principals").write(
        {"user:u-1": blocked, "session:s-1": lapsed}
    )
    LocalStateFile(data / "documents.json", "documents").write(
        {"doc-1": {"status": "quarantined"}, "doc-2": {"status": "released"}}
    )
    LocalStateFile(data / "filter_rules.json", "rules").write(
        {
            "r-1": {"status": "active", "kind": "canary", "pattern": "canary-1"},
            "r-2": {"status": "removed", "kind": "canary", "pattern": "canary-2"},
        }
    )
    answer = (
        await served.get(
            f"{CHECK}?user=u-1&session_id=s-1&document=doc-1&document=doc-2", headers=AUTH
        )
    ).json()
    assert answer == {
        "allowed": False,
        "reasons": [
            {
                "code": "principal_blocked",
                "target": "user:u-1",
                "message": "user:u-1 is blocked",
                "since": "2026-01-01T00:00:00+00:00",
            },
            {
                "code": "document_quarantined",
                "target": "doc-1",
                "message": "document doc-1 is quarantined",
                "since": None,
            },
        ],
    }
    rules = (await served.get("/api/v1/controls/filter-rules", headers=AUTH)).json()
    assert [r["id"] for r in rules["rules"]] == ["r-1"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {CONTROLS_TOKEN}"}],
)
async def test_other_credentials_are_refused_and_not_logged(
    served: httpx.AsyncClient, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = await served.get(CHECK, params={"key_id": "k"}, headers=headers)
        rules = await served.get("/api/v1/controls/filter-rules", headers=headers)
    assert response.status_code == rules.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"detail": "controls or operator bearer token required"}
    assert "wrong-token" not in caplog.text and CONTROLS_TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("key_id=" + "k" * 201, "key_id"),
        ("user=" + "u" * 201, "user"),
        ("session_id=" + "s" * 201, "session_id"),
        ("&".join(["document=d"] * 101), "document"),
    ],
)
async def test_malformed_input_is_422_naming_the_field(
    served: httpx.AsyncClient, query: str, field: str
) -> None:
    response = await served.get(f"{CHECK}?{query}", headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_refusals_of_what_cannot_be_checked(served: httpx.AsyncClient) -> None:
    nothing = await served.get(CHECK, headers=AUTH)
    assert nothing.status_code == 422
    assert "key_id" in nothing.json()["detail"]
    empty_document = await served.get(f"{CHECK}?document=", headers=AUTH)
    assert empty_document.status_code == 422
    assert empty_document.json()["detail"].startswith("document:")
    nul = await served.get(f"{CHECK}?key_id=a%00b", headers=AUTH)
    assert nul.status_code == 422
    assert nul.json()["detail"][0]["type"] == "url_nul"


async def test_only_the_controls_are_served_there(served: httpx.AsyncClient) -> None:
    assert (await served.get("/api/v1/incidents", headers=AUTH)).status_code == 404
    posted = await served.post(CHECK, params={"key_id": "k"}, headers=AUTH)
    assert posted.status_code == 405
    assert posted.headers["allow"] == "GET"


async def test_the_port_must_not_be_the_apis(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="controls_port must differ"):
        load_settings(data_dir=tmp_path, api={"port": 8100, "controls_port": 8100})


async def started(tmp_path: Path, migrated_store: Store, **api: object) -> ControlsListener:
    app = create_app(listener_settings(tmp_path, **api), migrated_store)
    listener: ControlsListener = app.state.controls_listener
    await listener.start()
    return listener


async def test_a_request_head_not_sent_in_time_is_dropped(
    tmp_path: Path, migrated_store: Store
) -> None:
    listener = await started(tmp_path, migrated_store, header_timeout_seconds=0.3)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"GET /api/v1/controls/check?key_id=k HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        # Dropped with no answer: the head never completed.
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""
        writer.close()
    finally:
        await listener.stop()


async def test_an_oversized_request_head_is_dropped(tmp_path: Path, migrated_store: Store) -> None:
    listener = await started(tmp_path, migrated_store)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"GET /api/v1/controls/check?key_id=k HTTP/1.1\r\nX-Big: " + b"a" * 70_000)
        try:
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), timeout=5)
        except ConnectionError:
            answer = b""
        assert answer == b""
        writer.close()
    finally:
        await listener.stop()


async def test_at_the_connection_cap_a_slow_client_makes_room(
    tmp_path: Path, migrated_store: Store
) -> None:
    listener = await started(tmp_path, migrated_store, max_connections=16)
    try:
        held = [await asyncio.open_connection("127.0.0.1", listener.port) for _ in range(16)]
        await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listener.port}") as http:
            response = await http.get(CHECK, params={"key_id": "k"}, headers=AUTH)
        assert response.status_code == 200
        # The oldest connection that never sent a head was evicted for it.
        assert await asyncio.wait_for(held[0][0].read(), timeout=5) == b""
        for _, writer in held:
            writer.close()
    finally:
        await listener.stop()


async def exchange(port: int, request: bytes) -> bytes:
    """`request` written as is; everything the listener sends until it closes (or 2 s)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    received = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), timeout=2):
            received += chunk
    except TimeoutError:
        pass
    writer.close()
    return received


async def test_pipelined_requests_are_answered_in_order(
    tmp_path: Path, migrated_store: Store
) -> None:
    listener = await started(tmp_path, migrated_store)
    try:
        LocalKeys(tmp_path / "data" / "keys.json").create("sk-1")
        LocalKeys(tmp_path / "data" / "keys.json").revoke("sk-1")
        head = f"Host: x\r\nAuthorization: Bearer {CONTROLS_TOKEN}\r\n"
        received = await exchange(
            listener.port,
            (
                f"GET {CHECK}?key_id=sk-1 HTTP/1.1\r\n{head}\r\n"
                f"GET {CHECK}?key_id=sk-2 HTTP/1.1\r\n{head}Connection: close\r\n\r\n"
                f"GET {CHECK}?key_id=sk-3 HTTP/1.1\r\n{head}\r\n"
            ).encode(),
        )
    finally:
        await listener.stop()
    answers = received.split(b"HTTP/1.1 ")[1:]
    # The third came after `Connection: close`: not answered, and the connection closed.
    assert len(answers) == 2
    assert answers[0].startswith(b"200 OK") and b'"key_revoked"' in answers[0]
    assert answers[1].startswith(b"200 OK") and b"connection: close" in answers[1]
    assert answers[1].endswith(b'{"allowed":true,"reasons":[]}')


async def test_a_malformed_request_is_400_and_closed(tmp_path: Path, migrated_store: Store) -> None:
    listener = await started(tmp_path, migrated_store)
    try:
        received = await exchange(listener.port, b"GET /\x01 nonsense\r\n\r\n")
        request = f"GET {CHECK}?key_id=k HTTP/1.0\r\nAuthorization: Bearer {CONTROLS_TOKEN}\r\n"
        http10 = await exchange(listener.port, f"{request}\r\n".encode())
    finally:
        await listener.stop()
    assert received.startswith(b"HTTP/1.1 400 Bad Request")
    # HTTP/1.0 without keep-alive: answered, then closed.
    assert http10.startswith(b"HTTP/1.1 200 OK") and b"connection: close" in http10


def test_served_on_uvloop_as_smokejumper_api_runs_it(tmp_path: Path, migrated_store: Store) -> None:
    # uvicorn runs `smokejumper api` on uvloop, whose transports differ from asyncio's.
    import uvloop

    async def main() -> int:
        listener = await started(tmp_path, migrated_store)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listener.port}") as http:
                response = await http.get(CHECK, params={"user": "u-1"}, headers=AUTH)
                refused = await http.get(CHECK, params={"user": "u-1"})
        finally:
            await listener.stop()
        assert response.json() == {"allowed": True, "reasons": []}
        return refused.status_code

    assert uvloop.run(main()) == 401
