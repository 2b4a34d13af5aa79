"""Native source payloads through `POST /api/v1/alerts/{source}`, end to end."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from smokejumper.security.signatures import sign
from smokejumper.store.tables import AlertRow, DeadLetter, Incident
from tests.engine import Engine, engine_on

FIXTURES = Path(__file__).resolve().parents[1] / "integrations" / "sources" / "fixtures"
LAKERA_TOKEN = "lakera-token-0123456789"
SHIELDS_SECRET = "shields-secret-0123456789"

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
            "lakera": {"token": LAKERA_TOKEN},
            # Named by the team, parsed as Azure Prompt Shields, deduplicated per endpoint.
            "shields-prod": {
                "format": "azure-prompt-shields",
                "signing_secret": SHIELDS_SECRET,
                "fingerprint": ["kind", "target.endpoint"],
            },
        },
    ) as running:
        yield running


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


async def test_lakera_prompt_attack_opens_a_prompt_injection_incident(engine: Engine) -> None:
    async with httpx.AsyncClient(base_url=engine.base_url) as sender:
        response = await sender.post(
            "/api/v1/alerts/lakera",
            content=fixture("lakera/prompt_attack.json"),
            headers={"authorization": f"Bearer {LAKERA_TOKEN}"},
        )
    assert response.status_code == 202, response.text
    with engine.store.session() as session:
        incident = session.scalars(select(Incident)).one()
        assert incident.kind == "prompt_injection"
        assert incident.owasp == ["LLM01"]
        assert "AML.T0051.000" in incident.atlas
        assert incident.target["application"] == "acmebank-support"
        alert = session.scalars(select(AlertRow)).one()
        assert alert.source == "lakera"
        # The native payload is kept as it came, next to the normalized alert.
        assert json.loads(alert.raw)["response"]["flagged"] is True


async def test_signed_source_with_its_own_format_and_fingerprint(engine: Engine) -> None:
    bodies = [fixture("azure_prompt_shields/document_attack.json")]
    # A second attack on the same endpoint by someone else is the same incident for this
    # source, because its fingerprint is kind + endpoint only.
    other = json.loads(bodies[0])
    other.setdefault("context", {})["user"] = "someone-else"
    bodies.append(json.dumps(other).encode())
    answers = []
    async with httpx.AsyncClient(base_url=engine.base_url) as sender:
        for body in bodies:
            timestamp = str(int(time.time()))
            response = await sender.post(
                "/api/v1/alerts/shields-prod",
                content=body,
                headers={
                    "x-smokejumper-timestamp": timestamp,
                    "x-smokejumper-signature": sign(SHIELDS_SECRET, timestamp, body),
                },
            )
            assert response.status_code == 202, response.text
            answers.append(response.json())
    assert answers[1]["deduplicated"] is True
    assert answers[0]["incident_id"] == answers[1]["incident_id"]
    with engine.store.session() as session:
        incident = session.scalars(select(Incident)).one()
        assert incident.kind == "prompt_injection"
        assert incident.labels.get("vector") == "indirect"
        assert incident.alert_count == 2


async def test_payload_of_the_wrong_shape_is_422_with_fields_and_kept(engine: Engine) -> None:
    async with httpx.AsyncClient(base_url=engine.base_url) as sender:
        response = await sender.post(
            "/api/v1/alerts/lakera",
            content=fixture("lakera/not_flagged.json"),
            headers={"authorization": f"Bearer {LAKERA_TOKEN}"},
        )
    assert response.status_code == 422
    body = response.json()
    assert body["fields"], body
    with engine.store.session() as session:
        letter = session.get(DeadLetter, body["dead_letter_id"])
        assert letter is not None
        assert letter.source == "lakera"
        assert letter.endpoint == "/api/v1/alerts/lakera"


async def test_operator_may_send_any_known_format_without_configuring_it(
    engine: Engine,
) -> None:
    response = await engine.http.post(
        "/api/v1/alerts/garak", content=fixture("garak/hitlog.jsonl").splitlines()[0]
    )
    assert response.status_code == 202, response.text
    with engine.store.session() as session:
        assert session.scalars(select(Incident.kind)).one() == "redteam_finding"


@pytest.mark.parametrize(
    ("source", "name", "kind"),
    [
        # llm-guard-api's /analyze/output answer, exactly as it returns it.
        ("llm-guard", "llm_guard/api_analyze_output.json", "data_leakage"),
        # scan_output's (sanitized, results_valid, results_score) serialised as JSON.
        ("llm-guard", "llm_guard/sdk_scan_output_triple.json", "data_leakage"),
        # Lakera Guard's /v2/guard answer alone.
        ("lakera", "lakera/v2_guard_response_only.json", "prompt_injection"),
        # The shieldPrompt response body alone.
        (
            "azure-prompt-shields",
            "azure_prompt_shields/response_only_document_attack.json",
            "prompt_injection",
        ),
        # The NeMo Guardrails server's /v1/chat/completions answer with its generation log.
        ("nemo-guardrails", "nemo_guardrails/chat_completion_self_check_output.json", "jailbreak"),
        # LLMRails.generate(...) -> GenerationResponse.model_dump().
        ("nemo-guardrails", "nemo_guardrails/generation_response_model_dump.json", "jailbreak"),
        # PyRIT Score.to_dict() of a current release, alone and as a list of scores.
        ("pyrit", "pyrit/current_true_false_jailbreak.json", "redteam_finding"),
        ("pyrit", "pyrit/current_score_list.json", "redteam_finding"),
    ],
)
async def test_tool_output_posted_as_is_opens_an_incident(
    engine: Engine, source: str, name: str, kind: str
) -> None:
    response = await engine.http.post(f"/api/v1/alerts/{source}", content=fixture(name))
    assert response.status_code == 202, response.text
    with engine.store.session() as session:
        assert session.scalars(select(Incident.kind)).one() == kind


async def test_malformed_llm_guard_triple_is_422_naming_the_field_and_kept(
    engine: Engine,
) -> None:
    response = await engine.http.post(
        "/api/v1/alerts/llm-guard", content=b'["x", {"PromptInjection": false}, []]'
    )
    assert response.status_code == 422
    body = response.json()
    # The third element, results_score, is the one that is not an object.
    assert [f["field"] for f in body["fields"]] == ["2"], body
    with engine.store.session() as session:
        letter = session.get(DeadLetter, body["dead_letter_id"])
        assert letter is not None
        assert letter.source == "llm-guard"


@pytest.mark.parametrize(
    ("source", "name", "field", "reason"),
    [
        # A run in which no rail stopped: nothing happened.
        (
            "nemo-guardrails",
            "nemo_guardrails/no_stop.json",
            "response.log.activated_rails",
            "nothing to report",
        ),
        # The target refused: the attack failed.
        ("pyrit", "pyrit/current_refusal.json", "score_value", "the target refused"),
    ],
)
async def test_tool_output_without_a_finding_is_422_and_kept(
    engine: Engine, source: str, name: str, field: str, reason: str
) -> None:
    response = await engine.http.post(f"/api/v1/alerts/{source}", content=fixture(name))
    assert response.status_code == 422
    body = response.json()
    assert [f["field"] for f in body["fields"]] == [field], body
    assert reason in body["fields"][0]["message"]
    with engine.store.session() as session:
        assert session.scalars(select(AlertRow)).all() == []
        letter = session.get(DeadLetter, body["dead_letter_id"])
        assert letter is not None
        assert letter.source == source
