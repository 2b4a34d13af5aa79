"""Thousands of malformed bodies: intake answers only 4xx and keeps every one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from integrations.sources.registry import NORMALIZERS
from smokejumper.app import create_app
from smokejumper.config import load_settings
from smokejumper.security.operator import operator_token
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.tables import AlertRow, DeadLetter
from tests.conftest import TEST_AUDIT_SEAL
from tests.helpers import free_port

VALID: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "alerts" / "generic.json").read_text()
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def mutated_alerts(draw: st.DrawFn) -> bytes:
    """A valid alert with one field removed, retyped or given a wrong value."""
    alert = dict(VALID)
    key = draw(st.sampled_from(sorted(alert)))
    action = draw(st.sampled_from(["drop", "replace"]))
    if action == "drop" and key in {"source", "kind", "severity", "title"}:
        del alert[key]
    else:
        alert[key] = draw(json_values.filter(lambda v: v != VALID[key]))
    return json.dumps(alert).encode()


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    mutated_alerts(),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[SyncIntake, Store]]:
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    upgrade(url)
    # Temporal is deliberately unreachable: any alert that does validate is stored and
    # left to the outbox, so the test measures intake alone.
    app_settings = load_settings(
        data_dir=tmp_path, database_url=url, temporal={"address": f"127.0.0.1:{free_port()}"}
    )
    store = Store(url, audit=TEST_AUDIT_SEAL)
    app = create_app(app_settings, store, normalizers=NORMALIZERS)
    token = operator_token(app_settings)
    transport = httpx.ASGITransport(app=app)

    loop = asyncio.new_event_loop()
    yield SyncIntake(loop, transport, token), store
    loop.close()
    store.dispose()


class SyncIntake:
    """ASGITransport is async-only; a sync facade keeps the hypothesis test simple."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, transport: httpx.ASGITransport, token: str
    ) -> None:
        self.loop = loop
        self.transport = transport
        self.headers = {"authorization": f"Bearer {token}"}

    def post(self, path: str, content: bytes) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self.transport, base_url="http://intake", headers=self.headers
            ) as http:
                return await http.post(path, content=content)

        return self.loop.run_until_complete(send())


@pytest.mark.slow
def test_malformed_bodies_get_4xx_and_are_all_dead_lettered(
    client: tuple[SyncIntake, Store],
) -> None:
    http, store = client
    outcomes: dict[str, int] = {"rejected": 0, "accepted": 0}
    paths = ["/api/v1/alerts", *(f"/api/v1/alerts/{name}" for name in sorted(NORMALIZERS))]

    @settings(
        max_examples=1500,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(body=bodies, path=st.sampled_from(paths))
    def send(body: bytes, path: str) -> None:
        response = http.post(path, content=body)
        assert response.status_code in {202, 400, 422}, (response.status_code, response.text)
        if response.status_code == 202:
            outcomes["accepted"] += 1
        else:
            outcomes["rejected"] += 1
            answer = response.json()
            assert answer["dead_letter_id"]
            if response.status_code == 422:
                assert answer["fields"], answer

    send()
    with store.session() as session:
        letters = session.scalar(select(func.count()).select_from(DeadLetter))
        alerts = session.scalar(select(func.count()).select_from(AlertRow))
    assert letters == outcomes["rejected"]
    assert alerts == outcomes["accepted"]
    assert outcomes["rejected"] >= 1000


NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400"]
UNSTORABLE = ["\x00", "\ud800", "\udfff"]


@st.composite
def hostile_alerts(draw: st.DrawFn) -> bytes:
    """A valid alert with one value (anywhere, evidence included) made hostile: a number
    JSON cannot carry, text holding NUL or an unpaired surrogate, or nesting deep enough to
    exhaust a recursive parser or walker."""
    alert: dict[str, Any] = json.loads(json.dumps(VALID))
    parents: list[dict[str, Any]] = [alert, alert["evidence"], alert["evidence"]["scores"]]
    parents += [alert["principal"], alert["target"], alert["labels"]]
    parent = draw(st.sampled_from(parents))
    key = draw(st.sampled_from(sorted(parent)) | st.text(min_size=1, max_size=8))
    harm = draw(st.sampled_from(["number", "text", "key", "deep"]))
    if harm == "text":
        parent[key] = draw(st.text(max_size=5)) + draw(st.sampled_from(UNSTORABLE))
    elif harm == "key":
        parent[key + draw(st.sampled_from(UNSTORABLE))] = "v"
    elif harm == "deep":
        depth = draw(st.integers(min_value=65, max_value=5_000))
        parent[key] = "__DEEP__"
        return json.dumps(alert).replace('"__DEEP__"', "[" * depth + "]" * depth).encode()
    else:
        parent[key] = "__NUMBER__"
        return json.dumps(alert).replace('"__NUMBER__"', draw(st.sampled_from(NON_FINITE))).encode()
    return json.dumps(alert).encode()


@pytest.fixture
def any_store_client(tmp_path: Path, database_url: str) -> Iterator[tuple[SyncIntake, Store]]:
    """As `client`, on SQLite and on PostgreSQL (which refuses NUL where SQLite keeps it)."""
    upgrade(database_url)
    app_settings = load_settings(
        data_dir=tmp_path,
        database_url=database_url,
        temporal={"address": f"127.0.0.1:{free_port()}"},
    )
    store = Store(database_url, audit=TEST_AUDIT_SEAL)
    app = create_app(app_settings, store, normalizers=NORMALIZERS)
    loop = asyncio.new_event_loop()
    yield SyncIntake(loop, httpx.ASGITransport(app=app), operator_token(app_settings)), store
    loop.close()
    store.dispose()


def test_hostile_values_get_4xx_and_are_all_kept(
    any_store_client: tuple[SyncIntake, Store],
) -> None:
    http, store = any_store_client
    refused = 0
    paths = ["/api/v1/alerts", "/api/v1/alerts/generic", "/api/v1/alerts/lakera"]

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(body=hostile_alerts(), path=st.sampled_from(paths))
    def send(body: bytes, path: str) -> None:
        nonlocal refused
        response = http.post(path, content=body)
        assert response.status_code in {400, 422}, (response.status_code, response.text)
        answer = response.json()
        assert answer["dead_letter_id"] and answer["fields"], answer
        refused += 1

    send()
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == refused
        assert session.scalar(select(func.count()).select_from(AlertRow)) == 0
