"""Intake authentication: bearer tokens and HMAC signatures per source, 401 vs 403."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from smokejumper.security.signatures import sign
from smokejumper.store.tables import AlertRow, DeadLetter
from tests.engine import Engine, engine_on
from tests.test_end_to_end import example

GUARD_TOKEN = "guard-token-0123456789"
SCANNER_SECRET = "scanner-signing-secret-0123456789"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest_asyncio.fixture
async def engine(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Engine]:
    async with engine_on(
        tmp_path,
        database_url,
        temporal_env,
        sources={
            "guard": {"format": "generic", "token": GUARD_TOKEN},
            "scanner": {"format": "generic", "signing_secret": SCANNER_SECRET},
        },
    ) as running:
        yield running


def counts(engine: Engine) -> tuple[int, int]:
    with engine.store.session() as session:
        alerts = session.scalar(select(func.count()).select_from(AlertRow)) or 0
        letters = session.scalar(select(func.count()).select_from(DeadLetter)) or 0
    return alerts, letters


def signed(body: bytes, secret: str = SCANNER_SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {
        "content-type": "application/json",
        "x-smokejumper-timestamp": timestamp,
        "x-smokejumper-signature": sign(secret, timestamp, body),
    }


async def post(engine: Engine, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=engine.base_url) as anonymous:
        return await anonymous.post(path, content=body, headers=headers)


async def test_missing_or_wrong_credentials_are_401_and_store_nothing(engine: Engine) -> None:
    body = json.dumps(example(source="guard")).encode()
    missing = await post(engine, "/api/v1/alerts", body, {"content-type": "application/json"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = await post(engine, "/api/v1/alerts", body, {"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert counts(engine) == (0, 0)


async def test_source_token_may_send_only_its_own_source(engine: Engine) -> None:
    auth = {"authorization": f"Bearer {GUARD_TOKEN}", "content-type": "application/json"}
    ok = await post(engine, "/api/v1/alerts", json.dumps(example(source="guard")).encode(), auth)
    assert ok.status_code == 202, ok.text
    other = await post(
        engine, "/api/v1/alerts", json.dumps(example(source="scanner")).encode(), auth
    )
    assert other.status_code == 403
    assert "belongs to source 'guard'" in other.json()["error"]
    path = await post(
        engine, "/api/v1/alerts/scanner", json.dumps(example(source="scanner")).encode(), auth
    )
    assert path.status_code == 403
    assert counts(engine) == (1, 0)


async def test_signed_request_is_accepted_once(engine: Engine) -> None:
    body = json.dumps(example(source="scanner")).encode()
    headers = signed(body)
    first = await post(engine, "/api/v1/alerts", body, headers)
    assert first.status_code == 202, first.text
    replayed = await post(engine, "/api/v1/alerts", body, headers)
    assert replayed.status_code == 401
    assert "replayed" in replayed.json()["error"]
    assert counts(engine) == (1, 0)


async def test_stale_forged_and_tampered_signatures_are_401(engine: Engine) -> None:
    body = json.dumps(example(source="scanner")).encode()
    stale = await post(engine, "/api/v1/alerts", body, signed(body, at=time.time() - 301))
    assert stale.status_code == 401
    assert "stale" in stale.json()["error"]
    # Well past the window: seconds spent on the requests before must not bring it inside.
    future = await post(engine, "/api/v1/alerts", body, signed(body, at=time.time() + 330))
    assert future.status_code == 401
    forged = await post(engine, "/api/v1/alerts", body, signed(body, secret="guessed-secret"))
    assert forged.status_code == 401
    headers = signed(body)
    tampered = await post(engine, "/api/v1/alerts", body.replace(b"high", b"low "), headers)
    assert tampered.status_code == 401
    no_timestamp = signed(body)
    del no_timestamp["x-smokejumper-timestamp"]
    assert (await post(engine, "/api/v1/alerts", body, no_timestamp)).status_code == 401
    assert counts(engine) == (0, 0)


async def test_signature_of_one_source_cannot_send_for_another(engine: Engine) -> None:
    body = json.dumps(example(source="guard")).encode()
    response = await post(engine, "/api/v1/alerts", body, signed(body))
    assert response.status_code == 403


async def test_authenticated_bad_input_is_dead_lettered_without_credentials(
    engine: Engine,
) -> None:
    auth = {"authorization": f"Bearer {GUARD_TOKEN}", "content-type": "application/json"}
    response = await post(engine, "/api/v1/alerts", b'{"source": "guard"}', auth)
    assert response.status_code == 422
    with engine.store.session() as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert letter.source == "guard"
        assert GUARD_TOKEN not in json.dumps(letter.headers)
        assert {e["field"] for e in letter.errors} >= {"kind", "severity", "title"}
