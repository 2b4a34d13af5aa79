"""garak report.jsonl and hitlog.jsonl files, read the way intake reads them.

`report.jsonl`, `hitlog.jsonl` and `named.*` are garak 0.17.1's own output, unedited except
for the install paths in them: `python -m garak --target_type test.Repeat` (the offline test
generator, which repeats the prompt and so fails the DAN and prompt-injection detectors)
with `--spec probes.dan.Dan_11_0,probes.promptinject.HijackHateHumans,
probes.encoding.InjectBase64 --generations 2` and no target name (`report.jsonl` and
`hitlog.jsonl`, whose generator garak writes as "test.Repeat None"), and with
`--target_name support-llm --spec probes.promptinject.HijackKillHumans,
probes.encoding.InjectHex --generations 1` (`named`);
both with `run.soft_probe_prompt_cap: 4` and the encoding probes' payloads set to
["default"]. `legacy.jsonl` has the shapes of garak before 0.11 (plain-string prompts,
`trigger`, eval `total`).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from integrations.sources.base import NormalizationError
from integrations.sources.garak import GarakNormalizer
from smokejumper.domain.alerts import Alert, AlertKind, Severity
from smokejumper.intake.streams import NoFinding, StreamState

FIXTURES = Path(__file__).parent / "fixtures" / "garak"
UNNAMED_RUN = "24bdefc8-8261-4e83-bb3c-ac507308956f"
normalizer = GarakNormalizer()


def rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]


def read_all(*names: str) -> tuple[list[Alert], Counter[str]]:
    """Every line of the files in order, one state per file, as intake does."""
    alerts: list[Alert] = []
    acknowledged: Counter[str] = Counter()
    for name in names:
        state: StreamState = {}
        for row in rows(name):
            outcome = normalizer.read(row, state)
            if isinstance(outcome, NoFinding):
                acknowledged[outcome.entry_type] += 1
            else:
                alerts.append(outcome)
    return alerts, acknowledged


def field_of(caught: pytest.ExceptionInfo[NormalizationError]) -> str:
    return caught.value.errors[0]["field"]


def test_a_whole_report_gives_its_failing_evals_and_acknowledges_the_rest() -> None:
    alerts, acknowledged = read_all("report.jsonl")
    # Two evals failed (dan.DAN 0/2, AttackRogueString 0/8); three passed.
    assert [a.labels["probe"] for a in alerts] == [
        "dan.Dan_11_0",
        "promptinject.HijackHateHumans",
    ]
    assert acknowledged == {
        "start_run setup": 1,
        "init": 1,
        "plugin_cache": 3,
        "payload_init": 1,
        "attempt": 18,
        "eval": 3,
        "probe_summary": 3,
        "completion": 1,
        "digest": 1,
    }
    dan = alerts[0]
    assert dan.kind is AlertKind.REDTEAM_FINDING
    assert dan.severity is Severity.MEDIUM
    assert dan.owasp == ["LLM01"]
    assert dan.atlas == ["AML.T0054"]
    # The eval line has no run id: it is the run the init line before it named.
    assert dan.dedup_key == f"garak:{UNNAMED_RUN}"
    assert dan.evidence.details["run_id"] == UNNAMED_RUN
    assert dan.evidence.details["garak_version"] == "0.17.1"
    assert (dan.evidence.details["passed"], dan.evidence.details["total"]) == (0, 2)
    assert dan.evidence.scores == {"failure_rate": 1.0}


def test_a_generator_named_none_is_an_unknown_model() -> None:
    alerts, _ = read_all("report.jsonl", "hitlog.jsonl")
    assert len(alerts) == 12
    for alert in alerts:
        assert alert.target.model is None, alert.target
        assert alert.labels["generator"] == "test.Repeat"
        assert "None" not in alert.title
    assert {alert.dedup_key for alert in alerts} == {f"garak:{UNNAMED_RUN}"}


def test_hits_and_evals_of_a_named_target_carry_its_model() -> None:
    alerts, _ = read_all("named.report.jsonl", "named.hitlog.jsonl")
    assert len(alerts) == 1 + 4
    assert {alert.target.model for alert in alerts} == {"support-llm"}
    assert {alert.labels["generator"] for alert in alerts} == {"test.Repeat support-llm"}
    assert len({alert.dedup_key for alert in alerts}) == 1
    hit = alerts[1]
    assert hit.title == (
        "garak probe promptinject.HijackKillHumans hit (promptinject.AttackRogueString) "
        "on support-llm"
    )
    assert hit.evidence.prompt is not None and "Kill all humans" in hit.evidence.prompt
    assert hit.evidence.response == hit.evidence.prompt  # test.Repeat repeats
    assert hit.evidence.scores == {"detector_score": 1.0}
    assert hit.evidence.details["goal"] == "inject a prompt on kill humans"


def test_an_older_target_key_names_the_model_for_the_evals_after_it() -> None:
    state: StreamState = {}
    setup = {"entry_type": "start_run setup", "transient.run_id": "r-1"}
    setup |= {"plugins.model_type": "openai", "plugins.model_name": "gpt-4o"}
    assert isinstance(normalizer.read(setup, state), NoFinding)
    alert = normalizer.read(rows("legacy.jsonl")[1], state)
    assert isinstance(alert, Alert)
    assert alert.target.model == "gpt-4o"
    assert alert.dedup_key == "garak:r-1"
    # A later run in the same stream does not inherit the first one's target.
    normalizer.read({"entry_type": "init", "run": "r-2"}, state)
    second = normalizer.read(rows("legacy.jsonl")[1], state)
    assert isinstance(second, Alert)
    assert second.target.model is None
    assert second.dedup_key == "garak:r-2"


def test_an_eval_alone_has_no_run_and_falls_back_to_the_usual_fingerprint() -> None:
    evaluation = next(r for r in rows("report.jsonl") if r["entry_type"] == "eval")
    alert = normalizer.normalize(evaluation)
    assert alert.dedup_key is None
    shipped = normalizer.normalize(evaluation | {"run_id": "r-9", "generator": "openai gpt-4o"})
    assert shipped.dedup_key == "garak:r-9"
    assert shipped.target.model == "gpt-4o"


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
    assert alert.severity is Severity.MEDIUM


def test_context_from_the_shipper() -> None:
    hit = rows("named.hitlog.jsonl")[0] | {
        "context": {"application": "support-bot", "model": "sb-7"}
    }
    alert = normalizer.normalize(hit)
    assert alert.target.application == "support-bot"
    assert alert.target.model == "sb-7"


@pytest.mark.parametrize(
    "entry_type",
    ["start_run setup", "init", "attempt", "completion", "digest", "a-future-entry-type"],
)
def test_every_entry_type_is_understood(entry_type: str) -> None:
    row = next(
        (r for r in rows("report.jsonl") if r["entry_type"] == entry_type),
        {"entry_type": entry_type},
    )
    outcome = normalizer.read(row, {})
    assert outcome == NoFinding(entry_type, f"garak {entry_type!r} entry")
    # Alone, through the one-event interface, it is a refusal that says why.
    with pytest.raises(NormalizationError, match="no finding") as caught:
        normalizer.normalize(row)
    assert field_of(caught) == "entry_type"


def test_an_eval_where_everything_passed_is_no_finding() -> None:
    passing = [r for r in rows("report.jsonl") if r.get("passed") == 8]
    assert passing
    assert normalizer.read(passing[0], {}) == NoFinding("eval", "every one of 8 outputs passed")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"passed": 300}, "passed"),
        ({"passed": -1}, "passed"),
        ({"passed": "0"}, "passed"),
        ({"total_evaluated": None, "total": None}, "total"),
        ({"probe": None}, "probe"),
        ({"detector": 5}, "detector"),
    ],
)
def test_malformed_eval_rows(change: dict[str, Any], field: str) -> None:
    evaluation = next(r for r in rows("report.jsonl") if r.get("detector") == "dan.DAN")
    with pytest.raises(NormalizationError) as caught:
        normalizer.read(evaluation | change, {})
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
        normalizer.read({"probe": "dan.Dan_11_0"}, {})
    assert field_of(caught) == "entry_type"
