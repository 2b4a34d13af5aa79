"""Fingerprints decide which alerts share an incident; routes decide the playbook."""

from __future__ import annotations

from typing import Any

from smokejumper.domain.alerts import Alert, AlertKind, Severity
from smokejumper.domain.fingerprint import fingerprint, workflow_id_for
from smokejumper.domain.routing import Route, Router


def alert(**changes: Any) -> Alert:
    base: dict[str, Any] = {
        "source": "llm-guard",
        "kind": "prompt_injection",
        "severity": "high",
        "title": "injection",
        "principal": {"user": "u1", "api_key_id": "k1"},
        "target": {"endpoint": "chat-prod", "model": "m", "model_version": "3"},
    }
    base.update(changes)
    return Alert.model_validate(base)


def test_same_kind_target_and_principal_share_a_fingerprint() -> None:
    first = alert(title="one", severity="low", evidence={"prompt": "a"})
    second = alert(title="two", severity="critical", evidence={"prompt": "b"}, source="lakera")
    assert fingerprint(first) == fingerprint(second)


def test_fingerprint_is_a_stable_value() -> None:
    # Pinned: changing the derivation would split running incidents after an upgrade.
    assert fingerprint(alert()) == "d92d521d25911e64a6d41747be222996"
    assert workflow_id_for("abc") == "incident-abc"
    # An incident's own run: the fingerprint alone no longer names one incident.
    assert workflow_id_for("abc", 42) == "incident-abc-42"


def test_other_principal_target_or_kind_is_another_incident() -> None:
    base = fingerprint(alert())
    assert fingerprint(alert(principal={"user": "u2", "api_key_id": "k1"})) != base
    assert fingerprint(alert(target={"endpoint": "chat-staging"})) != base
    assert fingerprint(alert(kind="jailbreak")) != base


def test_dedup_key_overrides_everything() -> None:
    one = alert(dedup_key="case-42", kind="jailbreak")
    two = alert(dedup_key="case-42", principal={"user": "someone-else"})
    assert fingerprint(one) == fingerprint(two)
    assert fingerprint(one) != fingerprint(alert(dedup_key="case-43"))


def test_first_matching_route_wins_and_fallback_is_marked() -> None:
    router = Router(
        [
            Route(playbook="leak", kinds=(AlertKind.DATA_LEAKAGE,)),
            Route(
                playbook="prod-injection",
                kinds=(AlertKind.PROMPT_INJECTION,),
                min_severity=Severity.HIGH,
                labels={"env": "production"},
            ),
            Route(playbook="any-injection", kinds=(AlertKind.PROMPT_INJECTION,)),
        ],
        fallback_playbook="triage",
    )
    decision = router.route(alert(labels={"env": "production"}))
    assert (decision.playbook, decision.matched) == ("prod-injection", True)
    assert router.route(alert(severity="medium", labels={"env": "production"})).playbook == (
        "any-injection"
    )
    fallback = router.route(alert(kind="model_extraction"))
    assert (fallback.playbook, fallback.matched) == ("triage", False)
    assert "no playbook" in fallback.reason
