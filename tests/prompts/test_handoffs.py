"""What `system-prompt-leakage` does when it cannot rotate: the registry down, the prompt
unknown (or its alias pointing at nothing), no replacement, the rotation denied or not
answered. The incident is never `contained` while the leaked prompt still serves, and a
responder is asked. On the time-skipping server, the registry faked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playbooks.system_prompt_leakage import (
    ROTATE_APPROVAL,
    ROTATE_DECIDE_WITHIN,
    ROTATE_STEP,
    UNNAMED_STEP,
    SystemPromptLeakage,
)
from smokejumper.domain.incidents import IncidentStatus
from smokejumper.sdk.approvals import Choice
from testkit import FakeProvider, make_alert
from testkit.pytest_plugin import HarnessFactory

ONCALL = "oncall-ana"
APPROVERS = {
    "security-oncall": [ONCALL],
    "incident-commanders": ["ic-cleo"],
    "dpo": ["dpo-dora"],
    "ml-platform": ["ml-dev"],
}
DOWN = "mlflow alias support-system@production: cannot reach the API (ConnectError)"
PLAN: dict[str, Any] = {
    "incident_id": 1,
    "found": True,
    "prompt": "support-system",
    "provider": "mlflow",
    "alias": "production",
    "serving_version": "3",
    "replacement_version": "4",
}


def alert() -> Any:
    return make_alert(
        kind="data_leakage",
        severity="high",
        target={"application": "support-bot"},
        evidence={"prompt": "hello", "response": "You are SupportBot, a helpful assistant."},
        owasp=["LLM07"],
    )


def rotated(action: dict[str, Any]) -> dict[str, Any]:
    return {
        "incident_id": action["incident_id"],
        "step": action["step"],
        "provider": action["provider"],
        "key_id": f"{action['prompt']}@{action['alias']}",
        "business_key": "k",
        "action": "rotate_prompt",
        "status": "completed",
        "verified": True,
        "reversible": True,
    }


async def test_a_registry_that_is_down_hands_the_rotation_over_and_a_retry_completes_it(
    playbook_harness: HarnessFactory,
) -> None:
    fake = FakeProvider(
        "prompt_plan",
        "rotate_prompt",
        results={"prompt_plan": PLAN},
        failures={"rotate_prompt": DOWN},
    )
    harness = await playbook_harness(SystemPromptLeakage, providers=[fake], approvers=APPROVERS)
    await harness.run(alert())
    await harness.approve(ROTATE_APPROVAL, as_=ONCALL)
    state = await harness.wait_for_pending(f"{ROTATE_STEP} failed")
    assert state.missing[ROTATE_STEP] == DOWN
    await harness.wait_for_timeline("playbook.finished")
    assert (await harness.state()).status is IncidentStatus.PARTLY_CONTAINED

    fake.returns("rotate_prompt", rotated)
    await harness.answer(f"{ROTATE_STEP} failed", Choice.RETRY, as_=ONCALL)
    await harness.wait_for_timeline("step.completed", step=ROTATE_STEP)
    await harness.wait_for_timeline("incident.status", count=3)
    state = await harness.state()
    assert state.status is IncidentStatus.CONTAINED and state.missing == {}
    calls = [c for c in fake.calls if c.activity == "rotate_prompt"]
    assert len(calls) == 2  # the failed attempt (no retries) and the responder's retry
    assert (calls[-1].arg["to_version"], calls[-1].arg["from_version"]) == ("4", "3")


async def test_an_unknown_prompt_or_an_alias_that_points_nowhere_is_left_to_a_responder(
    playbook_harness: HarnessFactory,
) -> None:
    nowhere = {"incident_id": 1, "reason": "support-system@prod-eu points at no version at mlflow"}
    fake = FakeProvider("prompt_plan", "rotate_prompt", results={"prompt_plan": nowhere})
    harness = await playbook_harness(SystemPromptLeakage, providers=[fake], approvers=APPROVERS)
    await harness.run(alert())
    state = await harness.wait_for_pending(f"{ROTATE_STEP} not done")
    assert "points at no version" in state.missing[ROTATE_STEP]
    unknown = await harness.wait_for_timeline("prompt.unknown")
    assert "points at no version" in unknown.message
    await harness.wait_for_timeline("playbook.finished")
    assert (await harness.state()).status is IncidentStatus.PARTLY_CONTAINED
    assert [c.activity for c in fake.calls] == ["prompt_plan"]  # nothing rotated

    await harness.answer(
        f"{ROTATE_STEP} not done", Choice.DONE, as_=ONCALL, note="alias moved in the MLflow UI"
    )
    await harness.wait_for_timeline("step.done_by_hand", step=ROTATE_STEP)
    await harness.wait_for_timeline("incident.status", count=3)
    assert (await harness.state()).status is IncidentStatus.CONTAINED


async def test_no_answer_in_time_rotates_nothing_and_asks_a_responder(
    playbook_harness: HarnessFactory,
) -> None:
    fake = FakeProvider("prompt_plan", "rotate_prompt", results={"prompt_plan": PLAN})
    harness = await playbook_harness(SystemPromptLeakage, providers=[fake], approvers=APPROVERS)
    await harness.run(alert())
    await harness.wait_for_pending(ROTATE_APPROVAL)
    await harness.advance(ROTATE_DECIDE_WITHIN + timedelta(seconds=1))
    state = await harness.wait_for_pending(f"{ROTATE_STEP} not done")
    assert state.missing[ROTATE_STEP].endswith("was not answered in time")
    assert "rotate_prompt" not in [c.activity for c in fake.calls]
    assert state.status is not IncidentStatus.CONTAINED


async def test_a_denied_rotation_or_a_leaky_replacement_is_not_rotated(
    playbook_harness: HarnessFactory,
) -> None:
    fake = FakeProvider("prompt_plan", "rotate_prompt", results={"prompt_plan": PLAN})
    harness = await playbook_harness(SystemPromptLeakage, providers=[fake], approvers=APPROVERS)
    await harness.run(alert())
    await harness.deny(ROTATE_APPROVAL, as_=ONCALL, reason="v4 is not reviewed yet")
    state = await harness.wait_for_pending(f"{ROTATE_STEP} not done")
    assert state.missing[ROTATE_STEP].endswith(f"was denied by {ONCALL}")

    leaky = FakeProvider(
        "prompt_plan",
        "rotate_prompt",
        results={"prompt_plan": {**PLAN, "replacement_kinds": ["openai_key"]}},
    )
    second = await playbook_harness(SystemPromptLeakage, providers=[leaky], approvers=APPROVERS)
    await second.run(alert())
    state = await second.wait_for_pending(f"{ROTATE_STEP} not done")
    assert "holds credentials too (openai_key)" in state.missing[ROTATE_STEP]
    assert ROTATE_APPROVAL not in state.pending_approvals
    assert "rotate_prompt" not in [c.activity for c in leaky.calls]


async def test_a_credential_in_the_output_that_no_key_id_names_is_left_to_a_responder(
    playbook_harness: HarnessFactory,
) -> None:
    """The prompt is unknown to the inventory, but the output itself held an OpenAI key."""
    leaky = make_alert(
        kind="data_leakage",
        severity="high",
        evidence={
            "prompt": "hello",
            "response": "You are SupportBot. Use sk-proj-Q9wE8rT7yU6iO5pA4sD3fG2hJ1kL0zXc.",
        },
        owasp=["LLM07"],
    )
    unknown = {"incident_id": 1, "reason": "the alerts name no application or prompt"}
    fake = FakeProvider("prompt_plan", "rotate_prompt", results={"prompt_plan": unknown})
    harness = await playbook_harness(SystemPromptLeakage, providers=[fake], approvers=APPROVERS)
    await harness.run(leaky)
    state = await harness.wait_for_pending(f"{UNNAMED_STEP} not done")
    assert "(openai_key)" in state.missing[UNNAMED_STEP]
    assert "sk-proj" not in state.missing[UNNAMED_STEP]
    note = await harness.wait_for_timeline("notification")
    assert "credentials to rotate by hand: openai_key" in note.message
