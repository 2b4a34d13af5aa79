"""PyRIT scores as red-team findings.

Fixtures are `Score.to_dict()` as Azure/PyRIT writes it (`pyrit/models/score.py`): `current_*`
with the scorer identifier of current releases (`ComponentIdentifier.to_dict()` in
`pyrit/identifiers/component_identifier.py`: class_name, class_module, hash, pyrit_version,
params inlined, children; SelfAskRefusalScorer's params and "refusal" category from
`pyrit/score/true_false/self_ask_refusal_scorer.py`), the others with the older
`{"__type__", "__module__"}` identifier, `prompt_request_response_id` and `task`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.sources.base import NormalizationError
from integrations.sources.pyrit import PyritNormalizer
from smokejumper.domain.alerts import AlertKind, Severity

FIXTURES = Path(__file__).parent / "fixtures" / "pyrit"
normalizer = PyritNormalizer()


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def field_of(caught: pytest.ExceptionInfo[NormalizationError]) -> str:
    return caught.value.errors[0]["field"]


def test_a_true_jailbreak_score() -> None:
    payload = load("true_false_jailbreak.json")
    alert = normalizer.normalize(payload)
    assert alert.source == "pyrit"
    assert alert.kind is AlertKind.REDTEAM_FINDING
    assert alert.severity is Severity.MEDIUM
    assert alert.owasp == ["LLM01"]
    assert alert.atlas == ["AML.T0054"]
    assert alert.target.application == "support-bot"
    assert alert.target.model == "gpt-4o"
    assert alert.target.endpoint == "https://support-bot.internal/v1/chat/completions"
    assert alert.labels == {
        "op_name": "q1-redteam-support-bot",
        "username": "rt-alice",
        "scorer": "SelfAskTrueFalseScorer",
        "pyrit_target": "OpenAIChatTarget",
    }
    assert alert.dedup_key == "pyrit:q1-redteam-support-bot:jailbreak"
    # PyRIT writes naive local timestamps; they are read as UTC.
    assert alert.occurred_at.isoformat() == "2025-02-18T11:24:07.512331+00:00"
    assert alert.evidence.prompt == payload["prompt"]
    assert alert.evidence.response == payload["response"]
    assert alert.evidence.scores == {"SelfAskTrueFalseScorer:jailbreak": 1.0}
    details = alert.evidence.details
    assert details["message_piece_id"] == "a3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    assert details["conversation_id"] == "c7a9e2b0-41d3-4e55-a8f1-3b6d9c0e2f14"
    assert details["objective"] == "Get the model to explain how to hotwire a car"
    assert details["rationale"] == payload["score_rationale"]
    assert alert.title == "PyRIT SelfAskTrueFalseScorer scored jailbreak true on support-bot"
    assert "hotwire" not in alert.title and "hotwire" not in (alert.description or "")


def test_an_older_float_scale_score() -> None:
    alert = normalizer.normalize(load("float_scale_harm.json"))
    assert alert.severity is Severity.MEDIUM
    assert alert.owasp == []
    assert alert.atlas == []
    assert alert.dedup_key is None
    assert alert.evidence.scores == {"SelfAskLikertScorer:harm": 0.75}
    details = alert.evidence.details
    assert details["message_piece_id"] == "6d5c4b3a-2918-4756-a4b3-c2d1e0f9a8b7"
    assert details["objective"] == "Elicit harmful chemistry instructions"
    assert details["metadata"] == '{"likert_scale": 4}'


def test_a_low_float_score_is_low() -> None:
    payload = load("float_scale_harm.json") | {"score_value": "0.25"}
    assert normalizer.normalize(payload).severity is Severity.LOW


@pytest.mark.parametrize(
    ("category", "owasp", "atlas"),
    [
        ("prompt_injection", ["LLM01"], ["AML.T0051.000"]),
        ("privacy", ["LLM02"], ["AML.T0057"]),
        ("system_prompt_leak", ["LLM07"], ["AML.T0056"]),
        ("misinformation", ["LLM09"], []),
        ("malware", ["LLM05"], []),
    ],
)
def test_category_mapping(category: str, owasp: list[str], atlas: list[str]) -> None:
    alert = normalizer.normalize(load("true_false_jailbreak.json") | {"score_category": [category]})
    assert (alert.owasp, alert.atlas) == (owasp, atlas)


def test_conversation_groups_when_there_is_no_operation() -> None:
    payload = load("true_false_jailbreak.json")
    del payload["labels"]
    alert = normalizer.normalize(payload)
    assert alert.dedup_key == "pyrit:conversation:c7a9e2b0-41d3-4e55-a8f1-3b6d9c0e2f14"


def test_a_false_score_is_not_a_finding() -> None:
    with pytest.raises(NormalizationError, match="nothing to report") as caught:
        normalizer.normalize(load("false_score.json"))
    assert field_of(caught) == "score_value"


def test_a_zero_float_score_is_not_a_finding() -> None:
    with pytest.raises(NormalizationError, match="nothing to report"):
        normalizer.normalize(load("float_scale_harm.json") | {"score_value": "0.0"})


def test_a_refusal_is_not_a_finding() -> None:
    with pytest.raises(NormalizationError, match="refused") as caught:
        normalizer.normalize(load("refusal.json"))
    assert field_of(caught) == "score_value"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"score_type": "likert"}, "score_type"),
        ({"score_value": "maybe"}, "score_value"),
        ({"score_type": "float_scale", "score_value": "1.5"}, "score_value"),
        ({"score_type": "float_scale", "score_value": "nan"}, "score_value"),
        ({"score_category": [1]}, "score_category[0]"),
        ({"labels": {"op_name": 3}}, "labels.op_name"),
        ({"timestamp": "18/02/2025"}, "timestamp"),
        ({"prompt": {"text": "x"}}, "prompt"),
        ({"score_metadata": ["x"]}, "score_metadata"),
    ],
)
def test_malformed_scores_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        normalizer.normalize(load("true_false_jailbreak.json") | change)
    assert field_of(caught) == field


def test_a_current_score_as_it_comes() -> None:
    payload = load("current_true_false_jailbreak.json")
    alert = normalizer.normalize(payload)
    assert alert.kind is AlertKind.REDTEAM_FINDING
    assert alert.severity is Severity.MEDIUM
    assert alert.owasp == ["LLM01"]
    assert alert.atlas == ["AML.T0054"]
    # Identifier params and children (the scorer's own chat target) are not read as labels.
    assert alert.labels == {"scorer": "SelfAskTrueFalseScorer"}
    assert alert.evidence.scores == {"SelfAskTrueFalseScorer:jailbreak": 1.0}
    assert alert.evidence.details["objective"] == payload["objective"]
    assert alert.evidence.details["message_piece_id"] == payload["message_piece_id"]
    assert alert.occurred_at.isoformat() == "2026-03-02T09:15:40.881230+00:00"
    # The scorer's own model is not the target under test.
    assert alert.target.model is None
    assert alert.title == "PyRIT SelfAskTrueFalseScorer scored jailbreak true"


@pytest.mark.parametrize("value", ["True", "true", "False", "false"])
def test_a_current_refusal_score_is_never_a_finding(value: str) -> None:
    with pytest.raises(NormalizationError, match="target refused") as caught:
        normalizer.normalize(load("current_refusal.json") | {"score_value": value})
    assert field_of(caught) == "score_value"


def test_a_list_of_scores_is_one_alert_about_the_strongest_finding() -> None:
    scores = load("current_score_list.json")
    alert = normalizer.normalize(scores)
    assert alert.labels == {"scorer": "SelfAskTrueFalseScorer"}
    assert alert.severity is Severity.MEDIUM
    assert alert.evidence.details["score_id"] == scores[2]["id"]
    assert alert.evidence.details["scores_sent"] == 3
    assert alert.evidence.details["findings"] == 2
    # The refusal scorer's "not refused" is not a finding and is not among the scores.
    assert alert.evidence.scores == {
        "SelfAskScaleScorer:jailbreak": pytest.approx(0.857142857),
        "SelfAskTrueFalseScorer:jailbreak": 1.0,
    }


def test_a_list_without_a_finding_is_not_an_alert() -> None:
    scores = [load("current_refusal.json"), load("false_score.json")]
    with pytest.raises(NormalizationError, match="none of the 2 scores") as caught:
        normalizer.normalize(scores)
    assert field_of(caught) == "(body)"


def test_a_single_score_in_a_list_reads_like_the_score() -> None:
    alone = normalizer.normalize(load("true_false_jailbreak.json"))
    listed = normalizer.normalize([load("true_false_jailbreak.json")])
    assert listed == alone


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "(body)"),
        (["score"], "[0]"),
        ([{"score_type": "true_false", "score_value": "yes"}], "[0].score_value"),
        ([{"score_type": "true_false", "score_value": "true", "labels": {"a": 1}}], "[0].labels.a"),
    ],
)
def test_malformed_score_lists_name_the_field(payload: Any, field: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        normalizer.normalize(payload)
    assert field_of(caught) == field
