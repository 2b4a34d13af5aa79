"""`model-compromise`'s regulatory questions in durable time (the time-skipping server):
unanswered Art. 73 questions fall back to the strictest class, and the 8-K clock counts
business days from the materiality answer, reminds and breaches at the end of the fourth."""

from __future__ import annotations

from datetime import timedelta

from playbooks.common import ART73_DECIDE_WITHIN
from playbooks.model_compromise import ModelCompromise
from smokejumper.sdk import (
    INVENTORY_CONTEXT,
    ISOLATE_ENDPOINT,
    RESTORE_ENDPOINT,
    REVOKE_KEY,
    InventoryContext,
)
from smokejumper.sdk.clocks import ClockKind, deadline_for
from testkit import FakeProvider, PlaybookRun, make_alert
from testkit.pytest_plugin import HarnessFactory

GROUPS = {
    "security-oncall": ["alice"],
    "incident-commanders": ["dana"],
    "ml-platform": ["carol"],
    "disclosure": ["erin"],
    "dpo": ["dpo-anna"],
}


def high_risk() -> FakeProvider:
    """A high-risk system the inventory knows nothing else about: no endpoint, no last
    known good version, no digest (so the model cannot be verified and is contained)."""
    return FakeProvider(
        INVENTORY_CONTEXT,
        ISOLATE_ENDPOINT,
        RESTORE_ENDPOINT,
        REVOKE_KEY,
        results={INVENTORY_CONTEXT: InventoryContext(found=True, high_risk=True)},
    )


async def started(playbook_harness: HarnessFactory) -> PlaybookRun:
    harness = await playbook_harness(ModelCompromise, providers=[high_risk()], approvers=GROUPS)
    alert = make_alert(kind="model_compromise", target={"model": "m-1", "model_version": "7"})
    return await harness.run(alert)


async def test_unanswered_art73_questions_assume_the_two_day_class(
    playbook_harness: HarnessFactory,
) -> None:
    run = await started(playbook_harness)
    await run.wait_for_pending("art73 widespread")
    await run.harness.advance(ART73_DECIDE_WITHIN + timedelta(minutes=1))

    classified = await run.wait_for_timeline("ai_act.classified")
    assert classified.message == (
        "EU AI Act Art. 73: widespread or critical infrastructure "
        "(art73 widespread: yes (no answer: assumed))"
    )
    [clock] = (await run.state()).clocks
    assert clock.kind == ClockKind.EU_AI_ACT_ART73_WIDESPREAD.value
    assert clock.started_at == run.incident.opened_at
    assert clock.deadline == run.incident.opened_at + timedelta(days=2)
    # The death question is not asked once the strictest class applies.
    assert "art73 death" not in [e.step for e in run.timeline()]


async def test_the_8k_clock_runs_from_the_determination_in_business_days(
    playbook_harness: HarnessFactory,
) -> None:
    run = await started(playbook_harness)
    # Another serious incident: its 15 days outlast everything below.
    await run.wait_for_pending("art73 widespread")
    await run.deny("art73 widespread", as_="dana", reason="one tenant")
    await run.wait_for_pending("art73 death")
    await run.deny("art73 death", as_="dana", reason="no harm to people")
    await run.wait_for_pending("materiality")
    await run.harness.advance(timedelta(hours=30))  # the determination takes a while
    await run.approve("materiality", as_="erin", reason="customer-facing model")
    clock = next(c for c in (await run.state()).clocks if c.kind == ClockKind.SEC_8K_ITEM_105.value)
    determined = clock.started_at
    assert clock.basis == "determination"
    assert determined >= run.incident.opened_at + timedelta(hours=30)
    assert clock.deadline == deadline_for(ClockKind.SEC_8K_ITEM_105, determined, None)
    assert clock.deadline - determined >= timedelta(days=4)

    # A day before the end of the fourth business day: reminded, not breached.
    now = await run.harness.env.get_current_time()
    await run.harness.advance(clock.deadline - now - timedelta(hours=23))
    reminder = await run.wait_for_timeline("clock.reminder")
    assert reminder.message.startswith("Clock sec-8k-item1.05: 1 day, 0:00:00 left")
    assert not next(c for c in (await run.state()).clocks if c.name == clock.name).breached
    await run.harness.advance(timedelta(hours=24))
    breached = await run.wait_for_timeline("clock.breached")
    assert breached.message == (
        f"Clock sec-8k-item1.05 breached its deadline {clock.deadline.isoformat()}; "
        "escalating to group:disclosure, group:incident-commanders"
    )
