"""Which alerts `system-prompt-leakage` takes: leaks that name LLM07 or AML.T0056. Every
other leak stays with `sensitive-data-leakage`, red-team findings with triage, injections
with `prompt-injection`; routes an operator or a team configured still come first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from playbooks import playbook_routes
from smokejumper.config import load_settings
from smokejumper.domain.alerts import Alert
from smokejumper.domain.routing import Route, Router


def alert(kind: str = "data_leakage", **fields: Any) -> Alert:
    return Alert.model_validate(
        {"source": "guard", "kind": kind, "severity": "medium", "title": "t", **fields}
    )


def routed(value: Alert, extra: list[Route] | None = None) -> str:
    return Router([*(extra or []), *playbook_routes()], "triage").route(value).playbook


@pytest.mark.parametrize(
    ("fields", "playbook"),
    [
        ({"owasp": ["LLM07"]}, "system-prompt-leakage"),
        ({"atlas": ["AML.T0056"]}, "system-prompt-leakage"),
        ({"owasp": ["LLM02", "LLM07"], "atlas": ["AML.T0057"]}, "system-prompt-leakage"),
        ({"owasp": ["LLM02"], "atlas": ["AML.T0057"]}, "sensitive-data-leakage"),
        ({}, "sensitive-data-leakage"),
        ({"labels": {"owasp": "LLM07"}}, "sensitive-data-leakage"),  # a label is no taxonomy
    ],
)
def test_leaks_naming_llm07_route_here_and_the_others_do_not(
    fields: dict[str, Any], playbook: str
) -> None:
    assert routed(alert(**fields)) == playbook


@pytest.mark.parametrize(
    ("kind", "playbook"),
    [
        ("redteam_finding", "triage"),
        ("prompt_injection", "prompt-injection"),
        ("jailbreak", "prompt-injection"),
    ],
)
def test_other_kinds_naming_llm07_keep_their_playbooks(kind: str, playbook: str) -> None:
    assert routed(alert(kind, owasp=["LLM07"], atlas=["AML.T0056"])) == playbook


def test_a_configured_route_still_comes_first() -> None:
    mine = Route(playbook="team-leaks", kinds=(), origin="config")
    assert routed(alert(owasp=["LLM07"]), [mine]) == "team-leaks"


def test_a_technique_matches_its_sub_techniques_only() -> None:
    route = Route(playbook="p", taxonomy=("AML.T0051",))
    assert route.matches(alert(atlas=["AML.T0051.001"]))
    assert route.matches(alert(atlas=["AML.T0051"]))
    assert not route.matches(alert(atlas=["AML.T0054"]))
    sub = Route(playbook="p", taxonomy=("AML.T0051.001",))
    assert not sub.matches(alert(atlas=["AML.T0051"]))
    assert not sub.matches(alert(atlas=["AML.T0051.000"]))


def test_taxonomy_routes_are_tried_before_kind_routes_of_the_built_ins() -> None:
    order = [r.playbook for r in playbook_routes() if "data_leakage" in r.kinds]
    assert order == ["system-prompt-leakage", "sensitive-data-leakage"]


def test_the_example_alert_reaches_the_playbook() -> None:
    path = (
        Path(__file__).resolve().parents[2] / "examples" / "alerts" / "system_prompt_leakage.json"
    )
    example = Alert.model_validate(json.loads(path.read_text(encoding="utf-8")))
    assert routed(example) == "system-prompt-leakage"


def test_a_route_naming_an_id_that_does_not_exist_is_refused() -> None:
    assert Route(playbook="p", taxonomy=("llm07", " AML.T0056 ")).taxonomy == ("LLM07", "AML.T0056")
    with pytest.raises(ValueError, match="not a MITRE ATLAS technique id"):
        Route(playbook="p", taxonomy=("LLM7",))


def test_a_configured_route_may_name_taxonomy(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, routes=[{"playbook": "team-leaks", "taxonomy": ["llm07"]}]
    )
    [route] = settings.routes
    assert route.taxonomy == ("LLM07",)
    assert routed(alert(owasp=["LLM07"]), [route]) == "team-leaks"
    assert routed(alert(owasp=["LLM02"]), [route]) == "sensitive-data-leakage"
