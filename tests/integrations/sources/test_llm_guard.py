"""LLM Guard scan results: failing scanners decide kind, scores decide severity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.sources.base import NormalizationError
from integrations.sources.llm_guard import LlmGuardNormalizer
from smokejumper.domain.alerts import AlertKind, Severity

FIXTURES = Path(__file__).parent / "fixtures" / "llm_guard"
normalizer = LlmGuardNormalizer()


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return payload


def field_of(caught: pytest.ExceptionInfo[NormalizationError]) -> str:
    return caught.value.errors[0]["field"]


def test_prompt_injection_on_the_prompt() -> None:
    payload = load("prompt_injection.json")
    alert = normalizer.normalize(payload)
    assert alert.source == "llm-guard"
    assert alert.kind is AlertKind.PROMPT_INJECTION
    assert alert.severity is Severity.HIGH
    assert alert.owasp == ["LLM01"]
    assert alert.atlas == ["AML.T0051.000"]
    assert alert.labels == {"direction": "prompt"}
    assert alert.principal.user == "u-1842"
    assert alert.principal.api_key_id == "key_live_7f3a"
    assert alert.principal.session_id == "sess_01HZX3K9"
    assert alert.principal.ip == "198.51.100.23"
    assert alert.target.application == "support-bot"
    assert alert.target.endpoint == "/v1/chat"
    assert alert.target.model == "gpt-4o-mini"
    assert alert.occurred_at.isoformat() == "2025-03-14T09:26:53+00:00"
    # Every scanner's score is kept, passing ones included.
    assert alert.evidence.scores["PromptInjection"] == 1.0
    assert alert.evidence.scores["Toxicity"] == -0.9
    assert alert.evidence.details["failed_scanners"] == "PromptInjection"
    assert alert.evidence.prompt == payload["prompt"]
    assert alert.dedup_key is None
    assert "PromptInjection" in alert.title and "support-bot" in alert.title
    assert "Ignore all previous" not in alert.title


def test_a_secret_in_model_output_is_critical_and_not_in_the_title() -> None:
    payload = load("output_secret.json")
    alert = normalizer.normalize(payload)
    assert alert.kind is AlertKind.DATA_LEAKAGE
    assert alert.severity is Severity.CRITICAL
    assert alert.owasp == ["LLM02"]
    assert alert.atlas == ["AML.T0057"]
    assert alert.labels == {"direction": "output"}
    # results_valid decides which scanners failed: Toxicity passed and is not attributed.
    assert alert.evidence.details["failed_scanners"] == "Secrets,Sensitive"
    assert alert.evidence.response == payload["output"]
    assert alert.title == "LLM Guard Secrets, Sensitive flagged model output on support-bot"
    for leaked in ("AKIAIOSFODNN7EXAMPLE", "Zq8#vR2!pL", "postgresql://"):
        assert leaked not in alert.title
        assert leaked not in (alert.description or "")


def test_toxic_model_output_counts_as_a_jailbreak() -> None:
    alert = normalizer.normalize(load("output_toxicity.json"))
    assert alert.kind is AlertKind.JAILBREAK
    assert alert.severity is Severity.MEDIUM
    assert alert.owasp == ["LLM01"]
    assert alert.atlas == ["AML.T0054"]


def test_pii_in_a_prompt_is_leakage_capped_at_medium() -> None:
    alert = normalizer.normalize(load("prompt_pii.json"))
    assert alert.kind is AlertKind.DATA_LEAKAGE
    assert alert.severity is Severity.MEDIUM
    assert alert.target.application == "claims-assistant"
    assert alert.principal.user == "u-77"


def test_token_limit_is_unbounded_consumption() -> None:
    alert = normalizer.normalize(load("token_limit.json"))
    assert alert.kind is AlertKind.UNBOUNDED_CONSUMPTION
    assert alert.owasp == ["LLM10"]
    assert alert.atlas == ["AML.T0029"]


@pytest.mark.parametrize(
    ("score", "severity"),
    [(0.95, Severity.HIGH), (0.9, Severity.HIGH), (0.75, Severity.MEDIUM), (0.3, Severity.LOW)],
)
def test_severity_follows_the_top_failing_score(score: float, severity: Severity) -> None:
    payload = load("prompt_injection.json")
    payload["scanners"] = {"PromptInjection": score, "Toxicity": 0.99}
    payload["results_valid"] = {"PromptInjection": False, "Toxicity": True}
    assert normalizer.normalize(payload).severity is severity


def test_prompt_injection_wins_over_other_failures_and_taxonomy_is_merged() -> None:
    payload = load("prompt_injection.json")
    payload["scanners"] = {"Secrets": 1.0, "PromptInjection": 0.8}
    alert = normalizer.normalize(payload)
    assert alert.kind is AlertKind.PROMPT_INJECTION
    assert alert.owasp == ["LLM02", "LLM01"]
    assert alert.atlas == ["AML.T0057", "AML.T0051.000"]


def test_a_valid_scan_is_not_an_alert() -> None:
    with pytest.raises(NormalizationError, match="nothing to report") as caught:
        normalizer.normalize(load("valid.json"))
    assert field_of(caught) == "is_valid"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"direction": None}, "direction"),
        ({"is_valid": "no"}, "is_valid"),
        ({"scanners": [1.0]}, "scanners"),
        ({"scanners": {"PromptInjection": "high"}}, "scanners.PromptInjection"),
        ({"scanners": {"PromptInjection": True}}, "scanners.PromptInjection"),
        ({"results_valid": {"PromptInjection": "false"}}, "results_valid.PromptInjection"),
        ({"prompt": 42}, "prompt"),
        ({"user": ["u"]}, "user"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
    ],
)
def test_malformed_envelopes_name_the_field(change: dict[str, Any], field: str) -> None:
    payload = load("prompt_injection.json") | change
    with pytest.raises(NormalizationError) as caught:
        normalizer.normalize(payload)
    assert field_of(caught) == field


def test_not_an_object() -> None:
    with pytest.raises(NormalizationError) as caught:
        normalizer.normalize("PromptInjection")
    assert field_of(caught) == "(body)"


def test_long_context_values_are_clamped_not_rejected() -> None:
    payload = load("prompt_injection.json") | {"application": "a" * 1000, "user": "u" * 300}
    alert = normalizer.normalize(payload)
    assert alert.target.application is not None and len(alert.target.application) == 200
    assert alert.principal.user is not None and len(alert.principal.user) == 200
    assert len(alert.title) <= 500
