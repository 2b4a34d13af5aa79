"""Tools' own output, posted with nothing added, is understood.

Shapes follow the tools' own code and docs:
- LLM Guard: llm_guard_api/app/app.py (`/analyze/prompt` -> AnalyzePromptResponse
  `sanitized_prompt, is_valid, scanners`; `/analyze/output` -> `sanitized_output, ...`) and
  llm_guard/evaluate.py (`scan_prompt`/`scan_output` return the
  `(sanitized, results_valid, results_score)` triple), protectai/llm-guard.
- Azure: "Prompt Shields" REST reference, Content Safety `text:shieldPrompt` 2024-09-01
  response (`userPromptAnalysis.attackDetected`, `documentsAnalysis[].attackDetected`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.sources.azure_prompt_shields import AzurePromptShieldsNormalizer
from integrations.sources.base import NormalizationError
from integrations.sources.llm_guard import LlmGuardNormalizer
from smokejumper.domain.alerts import AlertKind, Severity

FIXTURES = Path(__file__).parent / "fixtures"
llm_guard = LlmGuardNormalizer()


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_llm_guard_api_prompt_answer_is_a_prompt_scan() -> None:
    alert = llm_guard.normalize(load("llm_guard/api_analyze_prompt.json"))
    assert alert.kind is AlertKind.PROMPT_INJECTION
    assert alert.labels == {"direction": "prompt"}
    assert alert.severity is Severity.HIGH
    assert alert.owasp == ["LLM01"]


def test_llm_guard_api_output_answer_is_an_output_scan() -> None:
    alert = llm_guard.normalize(load("llm_guard/api_analyze_output.json"))
    assert alert.labels == {"direction": "output"}
    assert alert.kind is AlertKind.DATA_LEAKAGE
    assert alert.evidence.details["failed_scanners"] == "Sensitive"


def test_llm_guard_sdk_triple_with_an_output_scanner_is_an_output_scan() -> None:
    alert = llm_guard.normalize(load("llm_guard/sdk_scan_output_triple.json"))
    assert alert.labels == {"direction": "output"}
    assert alert.kind is AlertKind.DATA_LEAKAGE
    assert alert.evidence.details["failed_scanners"] == "Sensitive"


def test_llm_guard_sdk_triple_with_prompt_scanners_is_a_prompt_scan() -> None:
    triple = ["x", {"PromptInjection": False}, {"PromptInjection": 1.0}]
    alert = llm_guard.normalize(triple)
    assert alert.labels == {"direction": "prompt"}
    assert alert.kind is AlertKind.PROMPT_INJECTION


def test_llm_guard_pre_0_3_10_scores_are_flipped() -> None:
    # Before 0.3.10 a passing scanner scored positive; the version says which sign is meant.
    body = {
        "sanitized_prompt": "x",
        "is_valid": False,
        "scanners": {"PromptInjection": -1.0, "Toxicity": 0.9},
        "llm_guard_version": "0.3.9",
    }
    alert = llm_guard.normalize(body)
    assert alert.evidence.details["failed_scanners"] == "PromptInjection"
    assert alert.kind is AlertKind.PROMPT_INJECTION


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (["x", {}], "(body)"),
        ([1, {}, {}], "0"),
        (["x", [], {}], "1"),
        ({"sanitized_prompt": "x", "is_valid": False, "scanners": {"A": 7.0}}, "scanners.A"),
        ({"sanitized_prompt": "x", "is_valid": "no", "scanners": {}}, "is_valid"),
        ({"is_valid": False, "scanners": {}}, "direction"),
        (
            {"sanitized_prompt": "x", "is_valid": False, "scanners": {}, "llm_guard_version": "x"},
            "llm_guard_version",
        ),
    ],
)
def test_llm_guard_malformed_native_payload_names_the_field(payload: Any, field: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        llm_guard.normalize(payload)
    assert caught.value.errors[0]["field"] == field


def test_azure_response_body_alone_is_understood() -> None:
    alert = AzurePromptShieldsNormalizer().normalize(
        load("azure_prompt_shields/response_only_document_attack.json")
    )
    assert alert.kind is AlertKind.PROMPT_INJECTION
    assert "AML.T0051.001" in alert.atlas


def test_lakera_v2_guard_answer_alone_is_understood() -> None:
    # Lakera docs, "Guard API" POST /v2/guard response: flagged, breakdown, payload, metadata.
    from integrations.sources.lakera import LakeraNormalizer

    alert = LakeraNormalizer().normalize(load("lakera/v2_guard_response_only.json"))
    assert alert.kind is AlertKind.PROMPT_INJECTION
    assert alert.owasp == ["LLM01"]
