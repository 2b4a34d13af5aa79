"""The playbook testing kit itself: routing, both kinds of start, fakes, failure reports,
and the dev-server path (close). The example in tests/docs covers approvals and time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from playbooks.triage import Triage
from smokejumper.contracts.base import ContractError
from smokejumper.domain.incidents import IncidentStart, IncidentStatus
from testkit import FakeProvider, PlaybookHarness, WaitTimedOut, make_alert
from testkit.pytest_plugin import HarnessFactory, playbook_harness
from tests.docs.example_playbook import (
    KEY_STILL_ACTIVE,
    NOTIFY_OWNER,
    RESTORE_API_KEY,
    REVOKE_API_KEY,
    SNAPSHOT_CONVERSATION,
    ContainLeak,
)
from tests.sdk.kit_playbooks import (
    CallsNobody,
    CallsTwoProviders,
    WaitsOnAFailingProvider,
    never_answers,
)

# Imported for pytest, which finds fixtures by name in the test module.
__all__ = ["playbook_harness"]


def test_fake_provider_refuses_what_it_does_not_answer() -> None:
    with pytest.raises(ValueError, match="not named"):
        FakeProvider("a", results={"b": 1})
    with pytest.raises(ValueError, match="at least one"):
        FakeProvider()
    with pytest.raises(ValueError, match="not one of"):
        FakeProvider("a").fails("b", "no")


async def test_an_alert_no_trigger_matches_is_refused(playbook_harness: HarnessFactory) -> None:
    fake = FakeProvider(
        SNAPSHOT_CONVERSATION, NOTIFY_OWNER, KEY_STILL_ACTIVE, REVOKE_API_KEY, RESTORE_API_KEY
    )
    harness = await playbook_harness(ContainLeak, providers=[fake])
    with pytest.raises(AssertionError, match="matches no trigger of \\['example-contain-leak'\\]"):
        await harness.run(make_alert(kind="jailbreak", severity="critical"))
    with pytest.raises(AssertionError, match="matches no trigger"):
        await harness.run(make_alert(kind="data_leakage", severity="medium"))


async def test_calls_of_several_fakes_are_merged_in_order(
    playbook_harness: HarnessFactory,
) -> None:
    pager = FakeProvider("page_owner", results={"page_owner": lambda arg: f"paged {arg}"})
    tickets = FakeProvider("open_ticket")
    harness = await playbook_harness(CallsTwoProviders, providers=[pager, tickets])
    run = await harness.run(make_alert(), playbook="test-kit-two-providers")
    await harness.wait_for_timeline("playbook.finished")
    paged = f"paged {{'ref': '{run.ref}'}}"
    assert harness.calls == [
        ("page_owner", {"ref": run.ref}),
        ("open_ticket", paged),
        ("page_owner", None),
    ]
    assert pager.calls == [("page_owner", {"ref": run.ref}), ("page_owner", None)]
    assert tickets.calls == [("open_ticket", paged)]


async def test_an_incident_start_runs_without_intake(playbook_harness: HarnessFactory) -> None:
    harness = await playbook_harness(Triage)
    start = IncidentStart(
        incident_id=41,
        ref="INC-2026-0041",
        fingerprint="kit-start",
        kind="other",
        severity="low",
        title="started directly",
        playbook="triage",
        opened_at=datetime.now(UTC),
    )
    run = await harness.run(start)
    await harness.wait_for_timeline("playbook.finished")
    assert run.workflow_id == "incident-kit-start-41"
    assert [item.kind for item in harness.timeline()] == [
        "playbook.started",
        "triage.waiting",
        "playbook.finished",
    ]
    state = await harness.state()
    assert (state.ref, state.alerts_seen, state.status) == ("INC-2026-0041", 1, "open")


async def test_a_contract_nobody_implements_stops_the_harness(
    playbook_harness: HarnessFactory,
) -> None:
    with pytest.raises(ContractError, match="'nobody_registers_this' has no implementation"):
        await playbook_harness(CallsNobody)


async def test_a_wait_that_times_out_says_what_it_saw(playbook_harness: HarnessFactory) -> None:
    harness = await playbook_harness(
        WaitsOnAFailingProvider, providers=[never_answers], timeout=1.5
    )
    run = await harness.run(make_alert(), playbook="test-kit-failing")
    with pytest.raises(WaitTimedOut) as caught:
        await harness.wait_for_timeline("step.completed", step="call")
    report = str(caught.value)
    assert "timed out after 1.5s waiting for timeline 'step.completed' step='call'" in report
    assert "status: RUNNING" in report
    assert "step.started" in report
    assert "activity never_answers attempt" in report
    assert f"provider unavailable for {run.ref}" in report


async def test_close_and_result_on_the_dev_server(temporal_env: WorkflowEnvironment) -> None:
    async with PlaybookHarness(Triage, env=temporal_env) as harness:
        await harness.run(make_alert(), playbook="triage")
        await harness.wait_for_timeline("playbook.finished")
        with pytest.raises(RuntimeError, match="time-skipping server"):
            await harness.advance(timedelta(minutes=1))
        closed = await harness.close("false positive", as_="alice")
        assert closed.status is IncidentStatus.CLOSED
        assert (await harness.current.result()).status is IncidentStatus.CLOSED
        status = harness.timeline()[-1]
        assert (status.kind, status.actor) == ("incident.status", "alice")
