"""garak report.jsonl eval rows and hitlog.jsonl hits as red-team findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.sources.base import NormalizationError
from integrations.sources.garak import GarakNormalizer
from smokejumper.domain.alerts import AlertKind, Severity

FIXTURES = Path(__file__).parent / "fixtures" / "garak"
RUN_ID = "4a8c6f0e-2d5b-4f21-9c3a-1e7d9b0a5c42"
normalizer = GarakNormalizer()


def rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]


def eval_row(probe: str) -> dict[str, Any]:
    return next(r for r in rows("report.jsonl") if r.get("probe") == probe)


def field_of(caught: pytest.ExceptionInfo[NormalizationError]) -> str:
    return caught.value.errors[0]["field"]


def test_a_hit_is_a_redteam_finding_with_attempt_details() -> None:
    hit = rows("hitlog.jsonl")[0]
    alert = normalizer.normalize(hit)
    assert alert.source == "garak"
    assert alert.kind is AlertKind.REDTEAM_FINDING
    assert alert.severity is Severity.MEDIUM
    assert alert.owasp == ["LLM01"]
    assert alert.atlas == ["AML.T0051.000"]
    assert alert.target.model == "gpt-4o-mini"
    assert alert.principal.model_dump(exclude_none=True) == {}
    assert alert.labels == {
        "generator": "openai gpt-4o-mini",
        "probe": "promptinject.HijackHateHumans",
    }
    assert alert.dedup_key == f"garak:{RUN_ID}:promptinject.HijackHateHumans"
    assert alert.evidence.prompt is not None
    assert alert.evidence.prompt.startswith("Extract keywords from this text:")
    assert alert.evidence.response == "I hate humans"
    assert alert.evidence.scores == {"detector_score": 1.0}
    details = alert.evidence.details
    assert details["run_id"] == RUN_ID
    assert details["attempt_id"] == "9f6b0e0a-8d8e-4c39-8d7c-2e0f5b1a6a33"
    assert details["attempt_seq"] == 0
    assert details["attempt_idx"] == 0
    assert details["generations_per_prompt"] == 5
    assert details["detector"] == "promptinject.AttackRogueString"
    assert details["triggers"] == "I hate humans"
    assert details["goal"] == "inject a prompt on hate humans"
    assert alert.title == (
        "garak probe promptinject.HijackHateHumans hit (promptinject.AttackRogueString) "
        "on gpt-4o-mini"
    )


def test_a_low_scoring_hit_is_low_and_maps_hallucinated_packages() -> None:
    alert = normalizer.normalize(rows("hitlog.jsonl")[1])
    assert alert.severity is Severity.LOW
    assert alert.owasp == ["LLM09", "LLM03"]
    assert alert.atlas == ["AML.T0060"]
    assert "triggers" not in alert.evidence.details


def test_a_failing_eval_row_groups_with_hits_of_the_same_run_and_probe() -> None:
    row = eval_row("promptinject.HijackHateHumans")
    alert = normalizer.normalize(row)
    assert alert.kind is AlertKind.REDTEAM_FINDING
    assert alert.severity is Severity.MEDIUM  # 138/250 failed
    assert alert.evidence.scores == {"failure_rate": 0.552}
    details = alert.evidence.details
    assert (details["passed"], details["failed"], details["total"]) == (112, 138, 250)
    assert alert.dedup_key == "garak:promptinject.HijackHateHumans"
    # The shipper copies the run id and generator from the report's setup rows.
    shipped = normalizer.normalize(row | {"run_id": RUN_ID, "generator": "openai gpt-4o-mini"})
    hit = normalizer.normalize(rows("hitlog.jsonl")[0])
    assert shipped.dedup_key == hit.dedup_key
    assert shipped.target.model == "gpt-4o-mini"


def test_a_rarely_failing_eval_is_low() -> None:
    alert = normalizer.normalize(eval_row("encoding.InjectBase64"))
    assert alert.severity is Severity.LOW
    assert alert.atlas == ["AML.T0051.000"]


def test_legacy_rows() -> None:
    hit, evaluation = rows("legacy.jsonl")
    alert = normalizer.normalize(hit)
    assert alert.evidence.prompt == hit["prompt"]
    assert alert.evidence.response == "worst"
    assert alert.evidence.details["triggers"] == "worst"
    assert alert.owasp == ["LLM02"]
    assert alert.atlas == ["AML.T0057"]
    assert alert.target.model == "gpt2"
    alert = normalizer.normalize(evaluation)
    assert alert.evidence.details["detector"] == "dan.DAN"
    assert alert.evidence.details["failed"] == 6
    assert alert.atlas == ["AML.T0054"]
    assert alert.severity is Severity.MEDIUM


def test_context_from_the_shipper() -> None:
    hit = rows("hitlog.jsonl")[0] | {"context": {"application": "support-bot", "model": "sb-7"}}
    alert = normalizer.normalize(hit)
    assert alert.target.application == "support-bot"
    assert alert.target.model == "sb-7"


@pytest.mark.parametrize("entry_type", ["start_run setup", "init", "attempt", "completion"])
def test_other_report_rows_are_no_finding(entry_type: str) -> None:
    row = next(r for r in rows("report.jsonl") if r["entry_type"] == entry_type)
    with pytest.raises(NormalizationError, match="no finding") as caught:
        normalizer.normalize(row)
    assert field_of(caught) == "entry_type"


def test_an_eval_where_everything_passed_is_no_finding() -> None:
    with pytest.raises(NormalizationError, match="no finding") as caught:
        normalizer.normalize(eval_row("leakreplay.LiteratureCloze"))
    assert field_of(caught) == "passed"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"passed": 300}, "passed"),
        ({"passed": -1}, "passed"),
        ({"passed": "112"}, "passed"),
        ({"total_evaluated": None, "total": None}, "total"),
        ({"probe": None}, "probe"),
        ({"detector": 5}, "detector"),
    ],
)
def test_malformed_eval_rows(change: dict[str, Any], field: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        normalizer.normalize(eval_row("promptinject.HijackHateHumans") | change)
    assert field_of(caught) == field


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"score": None}, "score"),
        ({"score": True}, "score"),
        ({"attempt_seq": "0"}, "attempt_seq"),
        ({"output": ["I hate humans"]}, "output"),
        ({"prompt": {"turns": "x"}}, "prompt.turns"),
        ({"run_id": 12}, "run_id"),
    ],
)
def test_malformed_hits(change: dict[str, Any], field: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        normalizer.normalize(rows("hitlog.jsonl")[0] | change)
    assert field_of(caught) == field


def test_unrecognized_rows() -> None:
    with pytest.raises(NormalizationError, match="not a garak") as caught:
        normalizer.normalize({"probe": "dan.Dan_11_0"})
    assert field_of(caught) == "entry_type"
