"""smokejumper's model-integrity check: a digest mismatch is a critical model compromise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.sources.base import NormalizationError
from integrations.sources.model_integrity import ModelIntegrityNormalizer
from smokejumper.domain.alerts import AlertKind, Severity

FIXTURES = Path(__file__).parent / "fixtures" / "model_integrity"
normalizer = ModelIntegrityNormalizer()


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return payload


def field_of(caught: pytest.ExceptionInfo[NormalizationError]) -> str:
    return caught.value.errors[0]["field"]


def test_a_mismatch_is_a_critical_model_compromise() -> None:
    payload = load("mismatch.json")
    alert = normalizer.normalize(payload)
    assert alert.source == "model-integrity"
    assert alert.kind is AlertKind.MODEL_COMPROMISE
    assert alert.severity is Severity.CRITICAL
    assert alert.owasp == ["LLM03", "LLM04"]
    assert alert.atlas == ["AML.T0018", "AML.T0010"]
    assert alert.target.model == "support-llm"
    assert alert.target.model_version == "7"
    assert alert.dedup_key == "model-integrity:support-llm:7"
    assert alert.labels == {"registry": "mlflow"}
    assert alert.occurred_at.isoformat() == "2025-05-01T03:00:12+00:00"
    details = alert.evidence.details
    assert details["expected_digest"] == payload["expected_digest"]
    assert details["actual_digest"] == payload["actual_digest"]
    assert details["artifact_uri"] == payload["artifact_uri"]
    assert alert.title == "Model artifact digest mismatch for support-llm version 7"


def test_digests_are_compared_case_insensitively() -> None:
    payload = load("match.json")
    payload["actual_digest"] = payload["actual_digest"].upper().replace("SHA256:", "sha256:")
    with pytest.raises(NormalizationError, match="digests match"):
        normalizer.normalize(payload)


def test_matching_digests_are_not_an_alert() -> None:
    with pytest.raises(NormalizationError, match="nothing to report") as caught:
        normalizer.normalize(load("match.json"))
    assert field_of(caught) == "actual_digest"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expected_digest": "md5:d41d8cd98f00b204e9800998ecf8427e"}, "expected_digest"),
        ({"actual_digest": "sha256:abc"}, "actual_digest"),
        (
            {"actual_digest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
            "actual_digest",
        ),
        ({"registry": "huggingface"}, "registry"),
        ({"checked_at": "2025-05-01T03:00:12"}, "checked_at"),
        ({"checked_at": "last night"}, "checked_at"),
        ({"checked_at": 1746068412}, "checked_at"),
        ({"model": "  "}, "model"),
        ({"version": 7}, "version"),
        ({"artifact_uri": None}, "artifact_uri"),
    ],
)
def test_malformed_results_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        normalizer.normalize(load("mismatch.json") | change)
    assert field_of(caught) == field
