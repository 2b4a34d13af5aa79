"""NeMo Guardrails generation logs: the rail that stopped the generation is the finding."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from integrations.sources.base import NormalizationError
from integrations.sources.nemo_guardrails import NemoGuardrailsNormalizer
from smokejumper.domain.alerts import AlertKind, Severity

FIXTURES = Path(__file__).parent / "fixtures" / "nemo_guardrails"
normalizer = NemoGuardrailsNormalizer()


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return payload


def field_of(caught: pytest.ExceptionInfo[NormalizationError]) -> str:
    return caught.value.errors[0]["field"]


def test_self_check_input_stop_is_a_jailbreak_attempt() -> None:
    payload = load("self_check_input.json")
    alert = normalizer.normalize(payload)
    assert alert.source == "nemo-guardrails"
    assert alert.kind is AlertKind.JAILBREAK
    assert alert.severity is Severity.MEDIUM
    assert alert.owasp == ["LLM01"]
    assert alert.atlas == ["AML.T0054"]
    assert alert.labels == {"rail_type": "input", "vector": "direct"}
    assert alert.principal.user == "emp-4410"
    assert alert.principal.session_id == "th_8812"
    assert alert.target.application == "hr-assistant"
    assert alert.target.model == "gpt-4o-mini"
    # No context timestamp: the rail's own start time is when it happened.
    assert alert.occurred_at == datetime.fromtimestamp(1718031200.5, UTC)
    assert alert.evidence.prompt == payload["request"]["messages"][0]["content"]
    assert alert.evidence.response == "I'm sorry, I can't respond to that."
    details = alert.evidence.details
    assert details["rail_name"] == "self check input"
    assert details["rail_type"] == "input"
    assert details["stop"] is True
    assert details["action.self_check_input"] is False
    assert str(details["decisions"]).startswith("execute self_check_input | refuse to respond")
    assert alert.title == (
        "NeMo Guardrails input rail 'self check input' stopped the conversation on hr-assistant"
    )


def test_jailbreak_heuristics() -> None:
    alert = normalizer.normalize(load("jailbreak_heuristics.json"))
    assert alert.kind is AlertKind.JAILBREAK
    assert alert.atlas == ["AML.T0054"]
    assert alert.evidence.details["action.jailbreak_detection_heuristics"] is True
    assert "steal" not in alert.title


def test_sensitive_data_on_output_is_a_high_leak_and_earlier_rails_are_skipped() -> None:
    payload = load("sensitive_output.json")
    alert = normalizer.normalize(payload)
    assert alert.kind is AlertKind.DATA_LEAKAGE
    assert alert.severity is Severity.HIGH
    assert alert.owasp == ["LLM02"]
    assert alert.atlas == ["AML.T0057"]
    assert alert.labels == {"rail_type": "output"}
    assert alert.evidence.details["rail_name"] == "detect sensitive data on output"
    # The server's `messages` shape carries the bot reply.
    assert alert.evidence.response == "I'm sorry, I can't respond to that."


def test_a_retrieval_rail_is_an_indirect_injection() -> None:
    alert = normalizer.normalize(load("retrieval_injection.json"))
    assert alert.kind is AlertKind.PROMPT_INJECTION
    assert alert.severity is Severity.HIGH
    assert alert.owasp == ["LLM01"]
    assert alert.atlas == ["AML.T0051.001"]
    assert alert.labels == {"rail_type": "retrieval", "vector": "indirect"}
    # Scalar parts of a structured verdict are kept.
    details = alert.evidence.details
    assert details["action.check_chunks_for_injection.allowed"] is False
    assert details["action.check_chunks_for_injection.flagged_chunks"] == 1
    # The context timestamp wins over the rail's.
    assert alert.occurred_at.isoformat() == "2024-06-10T14:58:20+00:00"


@pytest.mark.parametrize(
    ("rail_type", "rail_name", "kind", "owasp"),
    [
        ("output", "self check output", AlertKind.JAILBREAK, ["LLM01"]),
        ("output", "self check facts", AlertKind.OTHER, ["LLM09"]),
        ("input", "injection detection", AlertKind.PROMPT_INJECTION, ["LLM01"]),
        ("input", "mask sensitive data on input", AlertKind.DATA_LEAKAGE, ["LLM02"]),
        ("input", "llama guard check input", AlertKind.OTHER, []),
        ("execution", "check tool call", AlertKind.OTHER, ["LLM06"]),
        ("dialog", "off topic", AlertKind.OTHER, []),
    ],
)
def test_rail_mapping(rail_type: str, rail_name: str, kind: AlertKind, owasp: list[str]) -> None:
    payload = load("self_check_input.json")
    rail = payload["response"]["log"]["activated_rails"][0]
    rail.update(type=rail_type, name=rail_name)
    alert = normalizer.normalize(payload)
    assert alert.kind is kind
    assert alert.owasp == owasp


def test_a_refusal_without_stop_still_counts() -> None:
    payload = load("self_check_input.json")
    payload["response"]["log"]["activated_rails"][0]["stop"] = False
    assert normalizer.normalize(payload).kind is AlertKind.JAILBREAK


def test_no_rail_stopped_is_not_an_alert() -> None:
    with pytest.raises(NormalizationError, match="nothing to report") as caught:
        normalizer.normalize(load("no_stop.json"))
    assert field_of(caught) == "response.log.activated_rails"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p["response"].pop("log"), "response.log"),
        (lambda p: p["response"]["log"].update(activated_rails={}), "response.log.activated_rails"),
        (
            lambda p: p["response"]["log"]["activated_rails"][0].pop("name"),
            "response.log.activated_rails[0].name",
        ),
        (
            lambda p: p["response"]["log"]["activated_rails"][0].update(stop="yes"),
            "response.log.activated_rails[0].stop",
        ),
        (
            lambda p: p["response"]["log"]["activated_rails"][0].update(decisions=[1]),
            "response.log.activated_rails[0].decisions[0]",
        ),
        (
            lambda p: p["response"]["log"]["activated_rails"][0]["executed_actions"][0].pop(
                "action_name"
            ),
            "response.log.activated_rails[0].executed_actions[0].action_name",
        ),
        (
            lambda p: p["response"]["log"]["activated_rails"][0].update(started_at="soon"),
            "response.log.activated_rails[0].started_at",
        ),
        (lambda p: p["request"].update(messages=[["user", "hi"]]), "request.messages[0]"),
        (
            lambda p: p["response"].update(response=[{"role": "assistant", "content": 1}]),
            "response.response[0].content",
        ),
    ],
)
def test_malformed_logs_name_the_field(mutate: Any, field: str) -> None:
    payload = load("self_check_input.json")
    mutate(payload)
    with pytest.raises(NormalizationError) as caught:
        normalizer.normalize(payload)
    assert field_of(caught) == field
