"""What happens when nobody answers, and when an attacker stops: on the time-skipping
server, with the production activities and the local control plane (under the test's
working directory)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from integrations.endpoints.local import LocalEndpoints
from playbooks.data_leakage import SensitiveDataLeakage
from playbooks.model_extraction import COOL_OFF, ModelExtraction
from playbooks.prompt_injection import (
    FREEZE_DECIDE_WITHIN,
    FREEZE_ESCALATE_AFTER,
    PromptInjection,
)
from smokejumper.config import Settings
from testkit import make_alert
from testkit.pytest_plugin import HarnessFactory
from tests.playbooks.conftest import APPROVERS


def agent_alert(severity: str) -> Any:
    return make_alert(
        kind="prompt_injection",
        severity=severity,
        principal={"user": "u-7"},
        target={"application": "browser-agent", "endpoint": "agent-prod"},
        evidence={"prompt": "summarise", "details": {"tool_calls": json.dumps([{"t": "x"}])}},
        labels={"vector": "agentic"},
    )


async def test_an_unanswered_freeze_escalates_then_leaves_a_high_agent_running(
    playbook_harness: HarnessFactory,
) -> None:
    harness = await playbook_harness(PromptInjection, SensitiveDataLeakage, approvers=APPROVERS)
    await harness.run(agent_alert("high"))
    await harness.wait_for_pending("freeze agent")

    await harness.advance(FREEZE_ESCALATE_AFTER + timedelta(seconds=1))
    escalated = await harness.wait_for_timeline("approval.escalated", step="freeze agent")
    assert "group:incident-commanders" in escalated.message
    await harness.advance(FREEZE_DECIDE_WITHIN)
    await harness.wait_for_timeline("approval.timed_out", step="freeze agent")
    await harness.wait_for_timeline("playbook.finished")

    kinds = [item.kind for item in harness.timeline()]
    assert not [item for item in harness.timeline() if item.step == "isolate agent"]
    assert kinds.index("approval.escalated") < kinds.index("approval.timed_out")


async def test_an_unanswered_freeze_isolates_a_critical_agent(
    playbook_harness: HarnessFactory,
) -> None:
    endpoints = LocalEndpoints(Settings().local_endpoints_file)
    endpoints.create("agent-prod")
    harness = await playbook_harness(PromptInjection, SensitiveDataLeakage, approvers=APPROVERS)
    await harness.run(agent_alert("critical"))
    await harness.wait_for_pending("freeze agent")

    await harness.advance(FREEZE_DECIDE_WITHIN + timedelta(seconds=1))
    await harness.wait_for_timeline("step.completed", step="isolate agent")
    assert endpoints.state("agent-prod").status == "isolated"


async def test_a_principal_that_stops_when_throttled_is_not_blocked(
    playbook_harness: HarnessFactory,
) -> None:
    harness = await playbook_harness(ModelExtraction, approvers=APPROVERS)
    await harness.run(
        make_alert(
            kind="model_extraction",
            severity="medium",
            principal={"api_key_id": "key-partner-acme"},
            evidence={"details": {"requests_per_minute": 900}},
        )
    )
    await harness.wait_for_timeline("step.completed", step="throttle principal")

    await harness.advance(COOL_OFF + timedelta(seconds=1))
    await harness.wait_for_timeline("throttle.effective")
    await harness.wait_for_timeline("playbook.finished")
    steps = {item.step for item in harness.timeline() if item.kind == "step.completed"}
    assert "block principal" not in steps
    assert not [s for s in steps if s and s.startswith("revoke key")]
    note = next(item for item in harness.timeline() if item.kind == "notification")
    assert "requests_per_minute 900" in note.message
