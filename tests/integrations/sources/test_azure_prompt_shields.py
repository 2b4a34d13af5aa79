"""Azure Prompt Shields: user prompt attacks are direct jailbreaks, document attacks indirect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.sources.azure_prompt_shields import AzurePromptShieldsNormalizer
from integrations.sources.base import NormalizationError
from smokejumper.domain.alerts import AlertKind, MatchedSpan, Severity

FIXTURES = Path(__file__).parent / "fixtures" / "azure_prompt_shields"
normalizer = AzurePromptShieldsNormalizer()


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return payload


def field_of(caught: pytest.ExceptionInfo[NormalizationError]) -> str:
    return caught.value.errors[0]["field"]


def test_a_user_prompt_attack_is_a_direct_jailbreak() -> None:
    payload = load("user_attack.json")
    alert = normalizer.normalize(payload)
    assert alert.source == "azure-prompt-shields"
    assert alert.kind is AlertKind.JAILBREAK
    assert alert.severity is Severity.MEDIUM
    assert alert.owasp == ["LLM01"]
    assert alert.atlas == ["AML.T0054", "AML.T0051.000"]
    assert alert.labels == {"vector": "direct"}
    assert alert.principal.user == "aad:5b7c2e10-3f4a-4c1d-9e8f-6a7b8c9d0e1f"
    assert alert.principal.tenant == "contoso"
    assert alert.target.application == "contoso-copilot"
    assert alert.target.model_version == "2024-08-06"
    assert alert.occurred_at.isoformat() == "2025-01-20T16:45:00+00:00"
    prompt = payload["request"]["userPrompt"]
    assert alert.evidence.prompt == prompt
    assert alert.evidence.matched_spans == [
        MatchedSpan(start=0, end=len(prompt), label="user_prompt_attack", field="prompt")
    ]
    assert alert.evidence.details["user_prompt_attack"] is True
    assert "DAN" not in alert.title
    assert alert.title == "Prompt Shields detected a user prompt attack on contoso-copilot"


def test_a_document_attack_is_an_indirect_prompt_injection() -> None:
    payload = load("document_attack.json")
    alert = normalizer.normalize(payload)
    assert alert.kind is AlertKind.PROMPT_INJECTION
    assert alert.severity is Severity.HIGH
    assert alert.owasp == ["LLM01"]
    assert alert.atlas == ["AML.T0051.001"]
    assert alert.labels == {"vector": "indirect"}
    details = alert.evidence.details
    assert details["document_index"] == 1
    assert details["attacked_document_indexes"] == "1"
    assert details["documents_screened"] == 2
    assert details["user_prompt_attack"] is False
    assert details["document_1"] == payload["request"]["documents"][1]
    assert "document_0" not in details
    assert alert.evidence.matched_spans == [
        MatchedSpan(
            start=0,
            end=len(payload["request"]["documents"][1]),
            label="document_attack[1]",
            field="document",
        )
    ]
    assert "trucy" not in alert.title.lower()


def test_both_attacks_together() -> None:
    alert = normalizer.normalize(load("both_attacks.json"))
    assert alert.kind is AlertKind.PROMPT_INJECTION
    assert alert.severity is Severity.HIGH
    assert alert.labels == {"vector": "direct+indirect"}
    assert set(alert.atlas) == {"AML.T0051.001", "AML.T0051.000", "AML.T0054"}
    assert alert.title.endswith("and a user prompt attack on contoso-copilot")


def test_documents_only_requests_have_no_user_prompt_analysis() -> None:
    payload = load("document_attack.json")
    del payload["request"]["userPrompt"]
    del payload["response"]["userPromptAnalysis"]
    alert = normalizer.normalize(payload)
    assert alert.kind is AlertKind.PROMPT_INJECTION
    assert alert.evidence.prompt is None


def test_no_attack_is_not_an_alert() -> None:
    with pytest.raises(NormalizationError, match="nothing to report") as caught:
        normalizer.normalize(load("no_attack.json"))
    assert field_of(caught) == "response"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("response"), "response"),
        (
            lambda p: p["response"]["userPromptAnalysis"].update(attackDetected="true"),
            "response.userPromptAnalysis.attackDetected",
        ),
        (
            lambda p: p["response"]["documentsAnalysis"][1].pop("attackDetected"),
            "response.documentsAnalysis[1].attackDetected",
        ),
        (lambda p: p["response"]["documentsAnalysis"].pop(), "response.documentsAnalysis"),
        (lambda p: p["request"]["documents"].__setitem__(0, {"text": "x"}), "request.documents[0]"),
        (lambda p: p["request"].update(userPrompt=["x"]), "request.userPrompt"),
        (lambda p: p.update(context="contoso"), "context"),
    ],
)
def test_malformed_payloads_name_the_field(mutate: Any, field: str) -> None:
    payload = load("document_attack.json")
    mutate(payload)
    with pytest.raises(NormalizationError) as caught:
        normalizer.normalize(payload)
    assert field_of(caught) == field
