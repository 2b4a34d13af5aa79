"""Lakera Guard v2 responses with breakdown and payload, wrapped with the screened request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.sources.base import NormalizationError
from integrations.sources.lakera import LakeraNormalizer
from smokejumper.domain.alerts import AlertKind, MatchedSpan, Severity

FIXTURES = Path(__file__).parent / "fixtures" / "lakera"
normalizer = LakeraNormalizer()


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return payload


def field_of(caught: pytest.ExceptionInfo[NormalizationError]) -> str:
    return caught.value.errors[0]["field"]


def test_prompt_attack_is_a_direct_prompt_injection() -> None:
    payload = load("prompt_attack.json")
    alert = normalizer.normalize(payload)
    assert alert.source == "lakera"
    assert alert.kind is AlertKind.PROMPT_INJECTION
    assert alert.severity is Severity.HIGH
    assert alert.owasp == ["LLM01"]
    assert alert.atlas == ["AML.T0051.000"]
    assert alert.labels == {"vector": "direct"}
    # Lakera's own metadata tag names map onto the principal.
    assert alert.principal.user == "cust-90210"
    assert alert.principal.session_id == "c0a8012e-5b1f-4c8e-9d65-0c1f7a3b2d44"
    assert alert.principal.ip == "192.0.2.10"
    assert alert.target.application == "acmebank-support"
    assert alert.target.endpoint == "/chat"
    assert alert.target.model == "gpt-4o"
    assert alert.evidence.prompt == payload["request"]["messages"][1]["content"]
    assert alert.evidence.response is None
    details = alert.evidence.details
    assert details["request_uuid"] == "ce8f3f8d-8f5a-4a5c-9a2b-6a0a2e5f1c11"
    assert details["detectors"] == "prompt_attack"
    assert details["project_id"] == "project-7539648934"
    assert details["policy_id"] == "policy-a2412e48-42eb-4e39-b6d8-8591171d48f2"
    assert details["dev_info.version"] == "2.0.219"
    assert alert.title == "Lakera Guard flagged prompt_attack on acmebank-support"


def test_pii_in_the_answer_is_a_high_leak_with_spans_into_the_response() -> None:
    payload = load("pii_in_output.json")
    alert = normalizer.normalize(payload)
    assert alert.kind is AlertKind.DATA_LEAKAGE
    assert alert.severity is Severity.HIGH
    assert alert.owasp == ["LLM02"]
    assert alert.atlas == ["AML.T0057"]
    assert alert.labels == {}
    assert alert.evidence.matched_spans == [
        MatchedSpan(start=20, end=39, label="pii/credit_card", field="response"),
        MatchedSpan(start=55, end=75, label="pii/email", field="response"),
    ]
    response = alert.evidence.response
    assert response is not None
    assert response[20:39] == "4111 1111 1111 1111"
    assert response[55:75] == "jane.doe@example.com"
    assert alert.evidence.prompt == "What card do you have on file for me?"
    for leaked in ("4111", "jane.doe"):
        assert leaked not in alert.title
        assert leaked not in (alert.description or "")


def test_pii_typed_by_the_user_is_medium() -> None:
    payload = load("pii_in_output.json")
    payload["request"]["messages"] = payload["request"]["messages"][:2]
    for item in payload["response"]["breakdown"] + payload["response"]["payload"]:
        item.pop("message_id", None)
    alert = normalizer.normalize(payload)
    assert alert.kind is AlertKind.DATA_LEAKAGE
    assert alert.severity is Severity.MEDIUM
    assert {span.field for span in alert.evidence.matched_spans} == {"prompt"}


def test_an_attack_in_a_tool_result_is_indirect() -> None:
    payload = load("tool_injection.json")
    alert = normalizer.normalize(payload)
    assert alert.kind is AlertKind.PROMPT_INJECTION
    assert alert.labels == {"vector": "indirect"}
    assert alert.atlas == ["AML.T0051.001", "AML.T0057"]
    assert alert.owasp == ["LLM01", "LLM02"]
    tool_text = payload["request"]["messages"][2]["content"]
    assert alert.evidence.details["message[2].tool"] == tool_text
    assert alert.evidence.matched_spans == [
        MatchedSpan(start=87, end=109, label="pii/email", field="tool")
    ]
    assert tool_text[87:109] == "exfil@attacker.example"


def test_moderated_content_in_the_answer_is_a_jailbreak_and_in_the_prompt_other() -> None:
    payload = load("pii_in_output.json")
    payload["response"]["payload"] = []
    payload["response"]["breakdown"] = [
        {"detector_type": "moderated_content/weapons", "detected": True, "message_id": 2}
    ]
    alert = normalizer.normalize(payload)
    assert (alert.kind, alert.severity, alert.atlas) == (
        AlertKind.JAILBREAK,
        Severity.MEDIUM,
        ["AML.T0054"],
    )
    payload["response"]["breakdown"][0]["message_id"] = 1
    alert = normalizer.normalize(payload)
    assert (alert.kind, alert.severity, alert.owasp) == (AlertKind.OTHER, Severity.LOW, [])


def test_without_breakdown_the_payload_names_the_detectors() -> None:
    payload = load("pii_in_output.json")
    del payload["response"]["breakdown"]
    alert = normalizer.normalize(payload)
    assert alert.kind is AlertKind.DATA_LEAKAGE
    assert alert.evidence.details["detectors"] == "pii/credit_card,pii/email"


def test_flagged_without_any_detail_is_still_an_alert() -> None:
    alert = normalizer.normalize({"response": {"flagged": True, "metadata": {}}})
    assert alert.kind is AlertKind.OTHER
    assert alert.severity is Severity.LOW


def test_numeric_user_ids_are_accepted() -> None:
    payload = load("prompt_attack.json")
    payload["request"]["metadata"]["user_id"] = 90210
    assert normalizer.normalize(payload).principal.user == "90210"


def test_not_flagged_is_not_an_alert() -> None:
    with pytest.raises(NormalizationError, match="flagged is false: nothing to report") as caught:
        normalizer.normalize(load("not_flagged.json"))
    assert field_of(caught) == "response.flagged"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("response"), "response"),
        (lambda p: p["response"].pop("flagged"), "response.flagged"),
        (lambda p: p["response"].update(breakdown={"a": 1}), "response.breakdown"),
        (
            lambda p: p["response"]["breakdown"][0].update(detected="yes"),
            "response.breakdown[0].detected",
        ),
        (
            lambda p: p["response"]["breakdown"][0].pop("detector_type"),
            "response.breakdown[0].detector_type",
        ),
        (lambda p: p["response"]["payload"][1].update(start=-1), "response.payload[1]"),
        (lambda p: p["response"]["payload"][0].update(end=3), "response.payload[0]"),
        (lambda p: p["response"]["payload"][0].update(end="39"), "response.payload[0].end"),
        (
            lambda p: p["response"]["payload"][0].update(message_id=9),
            "response.payload[0].message_id",
        ),
        (lambda p: p["request"].update(messages=["hi"]), "request.messages[0]"),
        (lambda p: p["request"]["messages"][0].update(content=7), "request.messages[0].content"),
        (lambda p: p["request"]["metadata"].update(session_id=1.5), "request.metadata.session_id"),
    ],
)
def test_malformed_payloads_name_the_field(mutate: Any, field: str) -> None:
    payload = load("pii_in_output.json")
    mutate(payload)
    with pytest.raises(NormalizationError) as caught:
        normalizer.normalize(payload)
    assert field_of(caught) == field
