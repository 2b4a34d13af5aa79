"""Context that travels beside the payload: URL query parameters and per-source defaults.

Over HTTP against the real API; what is checked is the stored alert.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from smokejumper.store.tables import AlertRow, DeadLetter
from tests.engine import Engine, engine_on

FIXTURES = Path(__file__).resolve().parents[1] / "integrations" / "sources" / "fixtures"
GUARD_TOKEN = "guard-token-0123456789abcdef"
DEFAULTS = {
    "application": "from-defaults",
    "user": "u-defaults",
    "endpoint": "ep-defaults",
    "label": {"env": "defaults", "team": "red"},
}

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
            "guard": {"format": "generic", "token": GUARD_TOKEN, "context": DEFAULTS},
            "model-integrity": {"context": {"application": "support-bot"}},
        },
    ) as running:
        yield running


def generic(**extra: Any) -> dict[str, Any]:
    return {
        "source": "guard",
        "kind": "prompt_injection",
        "severity": "high",
        "title": "injection",
        **extra,
    }


def stored(engine: Engine, alert_id: str) -> dict[str, Any]:
    with engine.store.session() as session:
        row = session.get(AlertRow, alert_id)
        assert row is not None
        return dict(row.normalized)


async def post(
    engine: Engine, path: str, body: Any, params: Any = None, token: str | None = None
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await engine.http.post(path, content=content, params=params, headers=headers)


async def test_every_query_parameter_reaches_the_stored_alert(engine: Engine) -> None:
    params = [
        ("application", "support-bot"),
        ("principal", "u-18273"),
        ("session", "s-1"),
        ("tenant", "acme"),
        ("api_key_id", "key-support-web"),
        ("endpoint", "support-chat-prod"),
        ("model", "support-llm"),
        ("model_version", "7"),
        ("data_source", "kb-confluence"),
        ("document", "doc-1"),
        ("document", "doc-2"),
        ("label.env", "production"),
        ("label.region", "eu-west-1"),
    ]
    lakera = (FIXTURES / "lakera" / "prompt_attack.json").read_bytes()
    response = await post(engine, "/api/v1/alerts/generic", generic(), params)
    assert response.status_code == 202, response.text
    alert = stored(engine, response.json()["alert_id"])
    assert alert["principal"] == {
        "user": "u-18273",
        "api_key_id": "key-support-web",
        "tenant": "acme",
        "session_id": "s-1",
        "ip": None,
    }
    assert alert["target"] == {
        "application": "support-bot",
        "endpoint": "support-chat-prod",
        "model": "support-llm",
        "model_version": "7",
    }
    assert alert["labels"] == {
        "env": "production",
        "region": "eu-west-1",
        "data_source": "kb-confluence",
        "document_id": "doc-1,doc-2",
    }
    # A native format takes the query too, below what its payload says (Lakera's metadata
    # names the user; `user` is the same parameter as `principal`).
    response = await post(engine, "/api/v1/alerts/lakera", lakera, {"user": "u-2", "tenant": "t"})
    assert response.status_code == 202, response.text
    alert = stored(engine, response.json()["alert_id"])
    assert (alert["principal"]["user"], alert["principal"]["tenant"]) == ("cust-90210", "t")


# Each of the three layers either says the field or not: payload > query > defaults.
LAYERS = list(itertools.product([True, False], repeat=3))


@pytest.mark.parametrize(("in_payload", "in_query", "in_defaults"), LAYERS)
async def test_precedence_payload_over_query_over_source_defaults(
    engine: Engine, in_payload: bool, in_query: bool, in_defaults: bool
) -> None:
    # The "guard" source has defaults for application and label env; "bare" has none.
    source = "guard" if in_defaults else "bare"
    token = GUARD_TOKEN if in_defaults else None
    payload = generic(source=source)
    if in_payload:
        payload |= {"target": {"application": "from-payload"}, "labels": {"env": "payload"}}
    params = {"application": "from-query", "label.env": "query"} if in_query else None
    response = await post(engine, "/api/v1/alerts", payload, params, token=token)
    assert response.status_code == 202, response.text
    alert = stored(engine, response.json()["alert_id"])
    expected = (
        ("from-payload", "payload")
        if in_payload
        else ("from-query", "query")
        if in_query
        else ("from-defaults", "defaults")
        if in_defaults
        else (None, None)
    )
    assert (alert["target"]["application"], alert["labels"].get("env")) == expected
    # Fields only the defaults name still fill in, whatever the other layers said.
    if in_defaults:
        assert alert["principal"]["user"] == "u-defaults"
        assert alert["labels"]["team"] == "red"


async def test_model_integrity_alerts_name_an_endpoint(engine: Engine) -> None:
    body = json.loads((FIXTURES / "model_integrity" / "mismatch.json").read_text())
    response = await post(
        engine, "/api/v1/alerts/model-integrity", body, {"endpoint": "support-chat-prod"}
    )
    assert response.status_code == 202, response.text
    target = stored(engine, response.json()["alert_id"])["target"]
    assert target["endpoint"] == "support-chat-prod"
    assert target["application"] == "support-bot"  # the source's configured default
    body["version"] = "8"
    body["endpoint"] = "support-chat-canary"  # the checker may say it itself
    response = await post(engine, "/api/v1/alerts/model-integrity", body, {"endpoint": "other"})
    assert stored(engine, response.json()["alert_id"])["target"]["endpoint"] == (
        "support-chat-canary"
    )


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("aplication=x", "query.aplication", "unknown query parameter"),
        ("application=a&application=b", "query.application", "more than once"),
        ("user=a&principal=b", "query.principal", "more than once"),
        ("application=", "query.application", "must not be empty"),
        ("model=" + "m" * 201, "query.model", "at most 200"),
        ("label.env=" + "v" * 501, "query.label.env", "at most 500"),
        ("label.=x", "query.label.", "must not be empty"),
        ("tenant=a%0Ab", "query.tenant", "control characters"),
        ("document=a,b", "query.document", "comma"),
        ("data_source=x&label.data_source=y", "query", "not both"),
    ],
)
async def test_bad_query_values_are_422_naming_the_parameter_and_kept(
    engine: Engine, query: str, field: str, message: str
) -> None:
    response = await engine.http.post(
        f"/api/v1/alerts/generic?{query}", content=json.dumps(generic()).encode()
    )
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["fields"][0]["field"] == field
    assert message in answer["fields"][0]["message"]
    with engine.store.session() as session:
        letter = session.get(DeadLetter, answer["dead_letter_id"])
        assert letter is not None
        assert json.loads(letter.raw_body) == generic()
        assert letter.headers[":query"] == query
        assert session.scalars(select(AlertRow)).first() is None


async def test_a_replayed_dead_letter_keeps_its_query_context(engine: Engine) -> None:
    bad = generic(severity="catastrophic")
    response = await post(engine, "/api/v1/alerts/generic", bad, {"application": "support-bot"})
    assert response.status_code == 422
    letter = response.json()["dead_letter_id"]
    replay = await engine.http.post(
        f"/api/v1/dead-letters/{letter}/replay", json={"body": json.dumps(generic())}
    )
    assert replay.status_code == 202, replay.text
    alert = stored(engine, replay.json()["alert_id"])
    assert alert["target"]["application"] == "support-bot"
