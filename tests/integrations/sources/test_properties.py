"""Properties every normalizer keeps, whatever JSON it is sent.

1. It returns an `Alert` or raises `NormalizationError` / pydantic `ValidationError`, never
   anything else: the API turns exactly those into 422s, so any other exception is a 500.
2. It is deterministic: the same payload twice gives equal alerts. `occurred_at` may differ only
   where the payload has no time of its own and the Alert default ("now") applied.
3. It does not modify the payload it was given.

Two generators: arbitrary JSON values, and the realistic fixtures with one value somewhere
inside replaced by arbitrary JSON (which reaches far deeper into each normalizer).
"""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from integrations.sources.base import NormalizationError, Normalizer
from integrations.sources.registry import NORMALIZERS, get_normalizer
from smokejumper.domain.alerts import Alert
from smokejumper.intake.json_body import MAX_DEPTH
from tests.helpers import json_paths, json_replaced

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_DIRS = {
    "generic": "generic",
    "llm-guard": "llm_guard",
    "lakera": "lakera",
    "azure-prompt-shields": "azure_prompt_shields",
    "nemo-guardrails": "nemo_guardrails",
    "garak": "garak",
    "pyrit": "pyrit",
    "model-integrity": "model_integrity",
}

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    # The suite's autouse fixture only isolates env and cwd; sharing it across examples is fine.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fixtures_for(source: str) -> list[Any]:
    payloads: list[Any] = []
    for path in sorted((FIXTURES / FIXTURE_DIRS[source]).iterdir()):
        text = path.read_text()
        if path.suffix == ".jsonl":
            payloads += [json.loads(line) for line in text.splitlines() if line]
        else:
            payloads.append(json.loads(text))
    return payloads


def check(normalizer: Normalizer, payload: Any) -> None:
    original = copy.deepcopy(payload)
    before = datetime.now(UTC)
    try:
        first = normalizer.normalize(payload)
    except (NormalizationError, ValidationError):
        assert payload == original
        with pytest.raises((NormalizationError, ValidationError)):
            normalizer.normalize(payload)
        return
    second = normalizer.normalize(copy.deepcopy(payload))
    after = datetime.now(UTC)
    assert isinstance(first, Alert)
    assert payload == original
    assert first.model_dump(exclude={"occurred_at"}) == second.model_dump(exclude={"occurred_at"})
    if first.occurred_at != second.occurred_at:
        assert before <= first.occurred_at <= after
        assert before <= second.occurred_at <= after


def test_the_registry_has_one_normalizer_per_source() -> None:
    assert set(NORMALIZERS) == set(FIXTURE_DIRS)
    for name, normalizer in NORMALIZERS.items():
        assert normalizer.name == name
        assert get_normalizer(name) is normalizer
    assert get_normalizer("splunk") is None


@pytest.mark.parametrize("source", sorted(FIXTURE_DIRS))
def test_every_fixture_is_deterministic(source: str) -> None:
    for payload in fixtures_for(source):
        check(NORMALIZERS[source], payload)


@pytest.mark.parametrize("source", sorted(FIXTURE_DIRS))
@PROPERTY_SETTINGS
@given(payload=JSON)
def test_arbitrary_json(source: str, payload: Any) -> None:
    check(NORMALIZERS[source], payload)


@pytest.mark.parametrize("source", sorted(FIXTURE_DIRS))
@PROPERTY_SETTINGS
@given(data=st.data())
def test_fixtures_with_one_value_replaced(source: str, data: st.DataObject) -> None:
    fixture = data.draw(st.sampled_from(fixtures_for(source)), label="fixture")
    path = data.draw(st.sampled_from(json_paths(fixture)), label="path")
    new = data.draw(JSON, label="replacement")
    check(NORMALIZERS[source], json_replaced(fixture, path, new))


# What intake's parser lets through at most (smokejumper.intake.json_body), and numbers and
# number-like strings a normalizer might turn into NaN or infinity.
NON_FINITE = st.sampled_from(
    [math.nan, math.inf, -math.inf, "NaN", "nan", "Infinity", "-inf", "1e999", "-1e999"]
)
DEEP = st.integers(min_value=1, max_value=MAX_DEPTH - 2).map(lambda depth: nested_list(depth))


def nested_list(depth: int) -> Any:
    value: Any = [1.5]
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("source", sorted(FIXTURE_DIRS))
@settings(PROPERTY_SETTINGS, max_examples=60)
@given(data=st.data())
def test_no_alert_carries_a_number_json_cannot(source: str, data: st.DataObject) -> None:
    """NaN and the infinities, as numbers or as strings a normalizer parses, and values
    nested as deep as intake lets through: the normalizer refuses, or returns an alert that
    is standard JSON (what the store keeps and the API serves)."""
    fixture = data.draw(st.sampled_from(fixtures_for(source)), label="fixture")
    path = data.draw(st.sampled_from(json_paths(fixture)), label="path")
    payload = json_replaced(fixture, path, data.draw(NON_FINITE | DEEP, label="replacement"))
    # Not `check`: NaN is unequal to itself, so "the payload is unchanged" cannot be asked.
    try:
        alert = NORMALIZERS[source].normalize(payload)
    except (NormalizationError, ValidationError):
        return
    json.dumps(alert.model_dump(mode="json"), allow_nan=False)
