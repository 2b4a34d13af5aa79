"""A sender that retries after a timeout stores its alert once: an `Idempotency-Key`, or
the source's own event id, gets the first answer back, even from concurrent twins."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select, update

from integrations.sources.registry import NORMALIZERS
from smokejumper.app import create_app
from smokejumper.config import Settings, load_settings
from smokejumper.intake import idempotency
from smokejumper.security.operator import operator_token
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.tables import AlertRow, DeadLetter, IntakeRequest
from tests.conftest import TEST_AUDIT_SEAL
from tests.helpers import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "integrations" / "sources" / "fixtures"
GUARD_TOKEN = "guard-token-0123456789"
SCANNER_TOKEN = "scanner-token-0123456789"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Temporal is unreachable: accepted alerts are stored and left to the outbox.
    return load_settings(
        None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        temporal={"address": f"127.0.0.1:{free_port()}"},
        sources={
            "guard": {"format": "generic", "token": GUARD_TOKEN},
            "scanner": {"format": "generic", "token": SCANNER_TOKEN},
        },
    )


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    upgrade(database_url)
    store = Store(database_url, audit=TEST_AUDIT_SEAL)
    yield store
    store.dispose()


@pytest_asyncio.fixture
async def http(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, store, normalizers=NORMALIZERS)
    token = operator_token(settings, create=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://intake",
        headers={"authorization": f"Bearer {token}"},
    ) as client:
        yield client


def alert(source: str = "guard", **extra: Any) -> dict[str, Any]:
    return {
        "source": source,
        "kind": "prompt_injection",
        "severity": "high",
        "title": "injection",
        "dedup_key": uuid.uuid4().hex,
        **extra,
    }


def count(store: Store, table: type[AlertRow] | type[DeadLetter]) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


async def test_a_retry_with_the_same_key_gets_the_first_answer(
    http: httpx.AsyncClient, store: Store
) -> None:
    body = alert()
    headers = {"Idempotency-Key": "order-42"}
    first = await http.post("/api/v1/alerts", json=body, headers=headers)
    assert first.status_code == 202, first.text
    again = await http.post("/api/v1/alerts", json=body, headers=headers)
    assert (again.status_code, again.json()) == (202, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert count(store, AlertRow) == 1
    # Without the key, the same body is a new alert.
    other = await http.post("/api/v1/alerts", json=body)
    assert other.json()["alert_id"] != first.json()["alert_id"]
    assert count(store, AlertRow) == 2


async def test_a_refusal_is_answered_again_and_kept_once(
    http: httpx.AsyncClient, store: Store
) -> None:
    bad = alert(severity="severe")
    headers = {"Idempotency-Key": "bad-1"}
    first = await http.post("/api/v1/alerts", json=bad, headers=headers)
    assert first.status_code == 422
    again = await http.post("/api/v1/alerts", json=bad, headers=headers)
    assert (again.status_code, again.json()) == (422, first.json())
    assert count(store, DeadLetter) == 1


async def test_a_key_reused_with_another_body_is_refused_naming_the_header(
    http: httpx.AsyncClient, store: Store
) -> None:
    headers = {"Idempotency-Key": "k-1"}
    assert (await http.post("/api/v1/alerts", json=alert(), headers=headers)).status_code == 202
    reused = await http.post("/api/v1/alerts", json=alert(), headers=headers)
    assert reused.status_code == 422
    assert [f["field"] for f in reused.json()["fields"]] == ["Idempotency-Key"]
    assert reused.json()["dead_letter_id"]
    assert count(store, AlertRow) == 1


async def test_an_invalid_key_is_refused_naming_the_header(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/api/v1/alerts", json=alert(), headers={"Idempotency-Key": "x" * 256}
    )
    assert response.status_code == 400
    assert [f["field"] for f in response.json()["fields"]] == ["Idempotency-Key"]


async def test_keys_are_scoped_to_the_credential(http: httpx.AsyncClient, store: Store) -> None:
    for source, token in (("guard", GUARD_TOKEN), ("scanner", SCANNER_TOKEN)):
        response = await http.post(
            "/api/v1/alerts",
            json=alert(source),
            headers={"Idempotency-Key": "same", "authorization": f"Bearer {token}"},
        )
        assert response.status_code == 202, response.text
    assert count(store, AlertRow) == 2


async def test_the_sources_own_event_id_makes_a_resend_a_retry(
    http: httpx.AsyncClient, store: Store
) -> None:
    # Lakera Guard's metadata.request_uuid names one screening request.
    lakera = json.loads((FIXTURES / "lakera" / "prompt_attack.json").read_text())
    first = await http.post("/api/v1/alerts/lakera", json=lakera)
    assert first.status_code == 202, first.text
    # Re-serialised differently by the shipper: still the same event.
    resent = await http.post("/api/v1/alerts/lakera", content=json.dumps(lakera, indent=2).encode())
    assert (resent.status_code, resent.json()) == (202, first.json())
    with store.session() as session:
        stored = session.scalars(select(AlertRow)).one()
    assert stored.normalized["event_id"] == lakera["response"]["metadata"]["request_uuid"]
    # The generic format takes an event_id too.
    generic = alert(event_id="evt-1")
    one = await http.post("/api/v1/alerts", json=generic)
    two = await http.post("/api/v1/alerts", json=generic)
    assert one.json() == two.json()
    assert count(store, AlertRow) == 2


async def test_keys_expire_after_a_day(http: httpx.AsyncClient, store: Store) -> None:
    body = alert()
    headers = {"Idempotency-Key": "old"}
    first = await http.post("/api/v1/alerts", json=body, headers=headers)
    with store.transaction() as session:
        session.execute(
            update(IntakeRequest).values(
                created_at=datetime.now(UTC) - idempotency.KEY_TTL - timedelta(minutes=1)
            )
        )
    later = await http.post("/api/v1/alerts", json=body, headers=headers)
    assert later.json()["alert_id"] != first.json()["alert_id"]
    assert count(store, AlertRow) == 2
    with store.transaction() as session:
        session.execute(
            update(IntakeRequest).values(created_at=datetime.now(UTC) - timedelta(days=2))
        )
    assert idempotency.purge_expired(store) == 1


async def test_concurrent_twins_store_once(http: httpx.AsyncClient, store: Store) -> None:
    body = alert()
    headers = {"Idempotency-Key": "twin"}
    answers = await asyncio.gather(
        *(http.post("/api/v1/alerts", json=body, headers=headers) for _ in range(8))
    )
    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1
    assert count(store, AlertRow) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_unique_key_lets_exactly_one_claim_through(store: Store) -> None:
    """Threads race the insert itself on PostgreSQL: one claim, the rest see it taken."""
    barrier = threading.Barrier(8)
    outcomes: list[idempotency.Outcome] = []
    lock = threading.Lock()

    def race() -> None:
        barrier.wait()
        outcome = idempotency.claim(store, "scope", "key", "0" * 64)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [o for o in outcomes if isinstance(o, idempotency.Claimed)]
    assert len(claimed) == 1
    assert all(isinstance(o, idempotency.InProgress) for o in outcomes if o not in claimed)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(IntakeRequest)) == 1
