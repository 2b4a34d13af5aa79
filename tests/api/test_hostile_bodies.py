"""Bodies built to break the parser or the store: nested a thousand levels deep, numbers
JSON cannot carry, text PostgreSQL cannot hold. Each gets a 4xx naming the problem and is
kept as a dead letter, exactly as sent where the store can hold it; none gets a 5xx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from smokejumper.intake.json_body import MAX_DEPTH
from smokejumper.store.db import Store
from smokejumper.store.tables import AlertRow, DeadLetter
from tests.engine import in_process_api

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "alerts" / "generic.json"
VALID: dict[str, Any] = json.loads(EXAMPLE.read_text())
ENDPOINTS = ["/api/v1/alerts", "/api/v1/alerts/lakera", "/api/v1/alerts/garak"]


@pytest_asyncio.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Store]]:
    async with in_process_api(tmp_path, database_url) as (http, store, _):
        yield http, store


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def with_evidence(evidence_json: str) -> bytes:
    """The example alert with `evidence` replaced by this JSON text, as sent."""
    body = json.dumps({**VALID, "evidence": "__EVIDENCE__"})
    return body.replace('"__EVIDENCE__"', evidence_json).encode()


def kept(store: Store, dead_letter_id: str) -> DeadLetter:
    with store.session() as session:
        letter = session.get(DeadLetter, dead_letter_id)
    assert letter is not None
    return letter


def stored_alerts(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(AlertRow)) or 0


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_deep_nesting_is_refused_400_and_kept(
    api: tuple[httpx.AsyncClient, Store], endpoint: str, depth: int
) -> None:
    http, store = api
    for body in (nested(depth).encode(), with_evidence('{"d": ' + nested(depth) + "}")):
        response = await http.post(endpoint, content=body)
        assert response.status_code == 400, response.text
        answer = response.json()
        assert answer["error"] == "body is nested too deeply"
        assert answer["fields"][0]["type"] == "json_too_deep"
        assert answer["fields"][0]["message"] == f"JSON nested deeper than {MAX_DEPTH} levels"
        assert kept(store, answer["dead_letter_id"]).raw_body == body.decode()
    assert stored_alerts(store) == 0


async def test_the_depth_limit_is_exact_and_names_where_it_was_passed(
    api: tuple[httpx.AsyncClient, Store],
) -> None:
    http, _ = api
    at_limit = '{"response": ' + nested(MAX_DEPTH - 1) + "}"
    answer = (await http.post("/api/v1/alerts/lakera", content=at_limit.encode())).json()
    # Parsed: refused by the format, not for its depth.
    assert answer["error"] == "payload is not in the source's format", answer
    beyond = '{"response": ' + nested(MAX_DEPTH) + "}"
    response = await http.post("/api/v1/alerts/lakera", content=beyond.encode())
    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "response" + ".0" * (MAX_DEPTH - 1)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
@pytest.mark.parametrize("field", ["scores", "details"])
async def test_non_finite_evidence_is_refused_422_naming_the_field(
    api: tuple[httpx.AsyncClient, Store], literal: str, field: str
) -> None:
    http, store = api
    body = with_evidence('{"' + field + '": {"PromptInjection": ' + literal + "}}")
    response = await http.post("/api/v1/alerts", content=body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["fields"] == [
        {
            "field": f"evidence.{field}.PromptInjection",
            "message": "Input should be a finite number",
            "type": "finite_number",
        }
    ]
    letter = kept(store, answer["dead_letter_id"])
    assert letter.raw_body == body.decode()
    assert letter.source == VALID["source"]
    assert stored_alerts(store) == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_a_source_payload_with_a_non_finite_number_is_refused_anywhere_in_it(
    api: tuple[httpx.AsyncClient, Store], literal: str
) -> None:
    http, store = api
    # Lakera's native response; the number is in a part no alert field comes from.
    body = '{"flagged": true, "metadata": {"request_uuid": "r-1", "score": ' + literal + "}}"
    response = await http.post("/api/v1/alerts/lakera", content=body.encode())
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == "body holds values that cannot be stored"
    assert [(f["field"], f["type"]) for f in answer["fields"]] == [
        ("metadata.score", "finite_number")
    ]
    assert kept(store, answer["dead_letter_id"]).raw_body == body
    assert stored_alerts(store) == 0


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("/api/v1/alerts", json.dumps({**VALID, "title": "leak\u0000"}), "title"),
        ("/api/v1/alerts", json.dumps({**VALID, "labels": {"e\u0000": "v"}}), "labels.e\ufffd"),
        ("/api/v1/alerts", json.dumps({**VALID, "title": "half \ud800"}), "title"),
        ("/api/v1/alerts/lakera", '{"flagged": true, "note": "\\u0000"}', "note"),
        ("/api/v1/alerts/lakera", '{"flagged": true, "note": "\\udc00"}', "note"),
    ],
)
async def test_text_the_store_cannot_hold_is_refused_422_and_kept(
    api: tuple[httpx.AsyncClient, Store], endpoint: str, body: str, field: str
) -> None:
    """PostgreSQL refuses NUL in text and JSON columns, and an unpaired surrogate is no
    UTF-8: once a 503 that a retrying sender could never get past."""
    http, store = api
    response = await http.post(endpoint, content=body.encode())
    assert response.status_code == 422, response.text
    answer = response.json()
    assert [f["field"] for f in answer["fields"]] == [field]
    assert kept(store, answer["dead_letter_id"]).raw_body == body
    assert stored_alerts(store) == 0


async def test_a_raw_nul_byte_is_refused_and_kept_as_replacement_text(
    api: tuple[httpx.AsyncClient, Store],
) -> None:
    http, store = api
    body = b'{"source": "dlp\x00", "title": "\xff"}'
    response = await http.post("/api/v1/alerts?application=a", content=body)
    assert response.status_code == 400, response.text
    letter = kept(store, response.json()["dead_letter_id"])
    assert letter.raw_body == '{"source": "dlp\ufffd", "title": "\ufffd"}'
