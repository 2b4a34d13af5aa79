"""Fingerprints are deterministic: the same alert material gives the same fingerprint in
any process, whatever else the alert carries, and different material a different one."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smokejumper.domain.alerts import Alert, AlertKind, Severity
from smokejumper.domain.fingerprint import FINGERPRINT_FIELDS, fingerprint

names = st.text(min_size=1, max_size=40).map(str.strip).filter(bool)
parts = st.fixed_dictionaries(
    {},
    optional={
        "user": names,
        "api_key_id": names,
        "tenant": names,
        "session_id": names,
        "ip": names,
    },
)
targets = st.fixed_dictionaries(
    {}, optional={"application": names, "endpoint": names, "model": names, "model_version": names}
)


@st.composite
def alerts(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "source": draw(names),
        "kind": draw(st.sampled_from(list(AlertKind))).value,
        "severity": draw(st.sampled_from(list(Severity))).value,
        "title": draw(names),
        "principal": draw(parts),
        "target": draw(targets),
        "labels": draw(st.dictionaries(names, st.text(max_size=20), max_size=3)),
    }


def field_lists() -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(sorted(FINGERPRINT_FIELDS)), min_size=1, max_size=4)


@given(alerts(), alerts())
def test_only_kind_target_and_principal_decide(
    first: dict[str, Any], other: dict[str, Any]
) -> None:
    same_material = {
        **other,
        "kind": first["kind"],
        "target": dict(reversed(list(first["target"].items()))),
        "principal": dict(reversed(list(first["principal"].items()))),
    }
    a, b = Alert.model_validate(first), Alert.model_validate(same_material)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) == fingerprint(Alert.model_validate_json(a.model_dump_json()))
    material = ("kind", "target", "principal")
    if any(Alert.model_validate(other).model_dump()[k] != a.model_dump()[k] for k in material):
        assert fingerprint(a) != fingerprint(Alert.model_validate(other))


@given(alerts(), field_lists())
def test_configured_fields_decide_alone(alert: dict[str, Any], fields: list[str]) -> None:
    parsed = Alert.model_validate(alert)
    retitled = Alert.model_validate({**alert, "severity": "info", "title": alert["title"] + "!"})
    value = fingerprint(parsed, fields)
    assert value == fingerprint(parsed, list(reversed(fields)))
    if "title" not in fields:
        assert value == fingerprint(retitled, fields)


_OTHER_PROCESS = """
import json, sys
from smokejumper.domain.alerts import Alert
from smokejumper.domain.fingerprint import fingerprint
cases = json.load(sys.stdin)
print(json.dumps([fingerprint(Alert.model_validate(a), f) for a, f in cases]))
"""


@settings(max_examples=3, deadline=None)
@given(st.lists(st.tuples(alerts(), st.none() | field_lists()), min_size=20, max_size=40))
def test_stable_across_processes_and_hash_seeds(cases: list[tuple[dict[str, Any], Any]]) -> None:
    here = [fingerprint(Alert.model_validate(a), f) for a, f in cases]
    for seed in ("1", "4242"):
        done = subprocess.run(
            [sys.executable, "-c", _OTHER_PROCESS],
            input=json.dumps(cases),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        )
        assert json.loads(done.stdout) == here
