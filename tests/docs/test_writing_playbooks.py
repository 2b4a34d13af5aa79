"""The tests of the example playbook, shown in docs/writing-playbooks.md.

(`# --8<--` lines cut this file into the parts the guide shows;
tests/docs/test_doc_matches_code.py keeps both identical.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from smokejumper.domain.alerts import Alert
from smokejumper.sdk import ISOLATE_ENDPOINT, RESTORE_ENDPOINT, Choice, IncidentStatus
from testkit import DecisionRefused, FakeProvider, make_alert
from testkit.pytest_plugin import HarnessFactory
from tests.docs.example_playbook import (
    ENDPOINT,
    GRACE_PERIOD,
    KEY_STILL_ACTIVE,
    NOTIFY_OWNER,
    RESTORE_API_KEY,
    REVOKE_API_KEY,
    SNAPSHOT_CONVERSATION,
    ContainLeak,
)

# --8<--
GROUPS = {"oncall": ["alice", "bob", "carol"], "leads": ["dana"]}
STEP = "isolate endpoint"


def leak(severity: str = "critical") -> Alert:
    return make_alert(
        kind="data_leakage",
        severity=severity,
        title="Customer email addresses in support-bot answers",
        target={"application": "support-bot", "endpoint": "support-bot-prod"},
    )


def providers(**results: object) -> FakeProvider:
    """Stands in for the evidence store, the owner's pager, the key vault and the gateway."""
    return FakeProvider(
        SNAPSHOT_CONVERSATION,
        NOTIFY_OWNER,
        KEY_STILL_ACTIVE,
        REVOKE_API_KEY,
        RESTORE_API_KEY,
        ISOLATE_ENDPOINT,
        RESTORE_ENDPOINT,
        results={REVOKE_API_KEY: "key-7", **results},
    )


# --8<--
async def test_isolation_needs_two_people(playbook_harness: HarnessFactory) -> None:
    harness = await playbook_harness(ContainLeak, providers=[providers()], approvers=GROUPS)
    run = await harness.run(leak())

    await harness.approve(STEP, as_="alice", reason="PII confirmed in three answers")
    assert (await harness.state()).pending_approvals == [STEP]
    with pytest.raises(DecisionRefused, match="alice has already answered"):
        await harness.approve(STEP, as_="alice")
    await harness.approve(STEP, as_="bob")

    await harness.wait_for_timeline("playbook.finished")
    calls = harness.calls
    # The two evidence steps ran in parallel, in either order.
    assert sorted(calls[:2]) == [("notify_owner", run.ref), ("snapshot_conversation", run.ref)]
    assert calls[2] == ("revoke_api_key", run.ref)
    assert (calls[3].activity, calls[3].arg["endpoint"]) == ("isolate_endpoint", ENDPOINT)
    state = await harness.state()
    assert state.status is IncidentStatus.CONTAINED
    assert state.steps_done[-2:] == ["revoke key", "isolate endpoint"]
    approved = [item for item in harness.timeline() if item.kind == "approval.approved"]
    assert [(item.step, item.actor) for item in approved] == [(STEP, "bob")]


# --8<--
async def test_leads_are_asked_after_fifteen_minutes(playbook_harness: HarnessFactory) -> None:
    harness = await playbook_harness(ContainLeak, providers=[providers()], approvers=GROUPS)
    await harness.run(leak())
    await harness.approve(STEP, as_="alice")
    with pytest.raises(DecisionRefused, match="dana is not an approver"):
        await harness.approve(STEP, as_="dana")

    await harness.advance(timedelta(minutes=16))
    escalated = await harness.wait_for_timeline("approval.escalated", step=STEP)
    assert "also asking group:leads" in escalated.message
    await harness.approve(STEP, as_="dana")

    await harness.wait_for_timeline("step.completed", step=STEP)
    assert harness.calls[-1].activity == "isolate_endpoint"


# --8<--
async def test_no_decision_within_an_hour_aborts_and_restores_the_key(
    playbook_harness: HarnessFactory,
) -> None:
    harness = await playbook_harness(ContainLeak, providers=[providers()], approvers=GROUPS)
    run = await harness.run(leak())
    await harness.wait_for_pending(STEP)

    await harness.advance(timedelta(hours=1, minutes=1))
    await harness.wait_for_timeline("step.completed", step="undo revoke key")
    kinds = [item.kind for item in harness.timeline()]
    assert kinds.index("approval.timed_out") < kinds.index("playbook.aborted")
    # The undo gets what the step was given.
    assert harness.calls[-1] == ("restore_api_key", run.ref)
    assert "isolate_endpoint" not in [call.activity for call in harness.calls]


# --8<--
async def test_one_denial_keeps_the_endpoint_up(playbook_harness: HarnessFactory) -> None:
    harness = await playbook_harness(ContainLeak, providers=[providers()], approvers=GROUPS)
    await harness.run(leak())
    await harness.deny(STEP, as_="carol", reason="the endpoint also serves the status page")

    await harness.wait_for_timeline("playbook.finished")
    denied = await harness.wait_for_timeline("approval.denied", step=STEP)
    assert denied.actor == "carol"
    assert "isolate_endpoint" not in [call.activity for call in harness.calls]
    assert (await harness.state()).status is IncidentStatus.ACKNOWLEDGED


# --8<--
async def test_a_high_leak_gives_the_owner_time_to_rotate(
    playbook_harness: HarnessFactory,
) -> None:
    fake = providers(key_still_active=False)
    harness = await playbook_harness(ContainLeak, providers=[fake], approvers=GROUPS)
    run = await harness.run(leak(severity="high"))

    await harness.wait_for_idle()
    assert "key_still_active" not in [call.activity for call in fake.calls]
    await harness.advance(GRACE_PERIOD)
    await harness.wait_for_pending(STEP)
    assert ("key_still_active", run.ref) in fake.calls
    assert "revoke_api_key" not in [call.activity for call in fake.calls]


# --8<--
async def test_the_dpo_is_reminded_then_files(playbook_harness: HarnessFactory) -> None:
    harness = await playbook_harness(ContainLeak, providers=[providers()], approvers=GROUPS)
    await harness.run(leak())
    await harness.deny(STEP, as_="carol", reason="not needed once the key is revoked")

    await harness.advance(timedelta(hours=48, minutes=1))
    await harness.wait_for_timeline("clock.reminder")
    assert (await harness.state()).clocks[0].reminders_sent == 1
    await harness.stop_clock("gdpr-art33", as_="dpo-anna", reference="DPA-2026-118")

    await harness.advance(timedelta(days=3))
    clock = (await harness.state()).clocks[0]
    assert clock.stopped_by == "dpo-anna"
    assert not clock.breached


# --8<--
async def test_a_failed_isolation_is_handed_to_people(playbook_harness: HarnessFactory) -> None:
    fake = providers()
    fake.fails(ISOLATE_ENDPOINT, "gateway refused the change")
    harness = await playbook_harness(
        ContainLeak, providers=[fake], approvers={**GROUPS, "incident-commanders": ["erin"]}
    )
    await harness.run(leak())
    await harness.approve(STEP, as_="alice")
    await harness.approve(STEP, as_="bob")

    # The response goes on; the incident says what is missing instead of "contained".
    await harness.wait_for_timeline("playbook.finished")
    state = await harness.wait_for_pending("isolate endpoint failed")
    assert state.status is IncidentStatus.PARTLY_CONTAINED
    assert state.missing == {"isolate endpoint": "gateway refused the change"}
    assert "restore_api_key" not in [call.activity for call in harness.calls]

    await harness.answer(
        "isolate endpoint failed", Choice.DONE, as_="erin", note="taken offline at the gateway"
    )
    await harness.wait_for_timeline("step.done_by_hand", step=STEP)
    await harness.wait_for_timeline("incident.status", count=3)
    state = await harness.state()
    assert state.status is IncidentStatus.CONTAINED
    assert state.missing == {}
