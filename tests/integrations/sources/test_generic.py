"""The generic source: the payload is already an Alert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from integrations.sources.generic import GenericNormalizer
from smokejumper.domain.alerts import AlertKind, Severity

FIXTURES = Path(__file__).parent / "fixtures" / "generic"
normalizer = GenericNormalizer()


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return payload


def test_a_generic_alert_passes_through_unchanged() -> None:
    payload = load("alert.json")
    alert = normalizer.normalize(payload)
    assert normalizer.name == "generic"
    assert alert.kind is AlertKind.MODEL_EXTRACTION
    assert alert.severity is Severity.HIGH
    assert alert.principal.api_key_id == "key_live_51c2"
    assert alert.target.endpoint == "/v2/quote"
    assert alert.owasp == ["LLM10"]
    assert alert.atlas == ["AML.T0024.002"]
    assert alert.evidence.scores == {"queries_per_minute": 1366.0}
    assert alert.model_dump(mode="json", exclude_none=True)["occurred_at"] == "2025-04-02T14:03:11Z"


def test_invalid_fields_are_pydantic_errors_with_locations() -> None:
    payload = load("alert.json") | {"severity": "apocalyptic", "owasp": ["LLM11"]}
    with pytest.raises(ValidationError) as caught:
        normalizer.normalize(payload)
    locations = {error["loc"] for error in caught.value.errors()}
    assert ("severity",) in locations
    assert ("owasp", 0) in locations


def test_a_non_object_is_rejected() -> None:
    with pytest.raises(ValidationError):
        normalizer.normalize(["not", "an", "alert"])
