"""Playbooks written with the SDK, for its tests (own module: the sandbox re-imports it)."""

from __future__ import annotations

from datetime import timedelta

from smokejumper.sdk import (
    ClockBasis,
    ClockKind,
    Contract,
    Escalation,
    Fallback,
    IncidentStart,
    Playbook,
    Severity,
    playbook,
)

FAKE_UNDO = Contract("fake_undo", str, str)
FAKE_ACTION = Contract("fake_action", str, str, undo=FAKE_UNDO)


@playbook
class FourEyesIsolation(Playbook):
    name = "test-four-eyes"
    description = "Snapshot, then isolate with two approvals; leads are asked after 15 min."

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("snapshot", FAKE_ACTION, "snapshot")
        decision = await self.approve(
            "isolate",
            question="Isolate the endpoint?",
            risk="Takes the support bot offline",
            approvers=["group:oncall"],
            min_approvals=2,
            timeout=timedelta(hours=1),
            escalation=[Escalation(after=timedelta(minutes=15), approvers=["group:leads"])],
            fallback=Fallback.ABORT,
        )
        if decision.approved:
            await self.step("isolate", FAKE_ACTION, "isolate")


class FakeProvider:
    """Records what a containment provider would have been asked to do."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @FAKE_ACTION.implementation
    async def action(self, what: str) -> str:
        self.calls.append(("do", what))
        return what

    @FAKE_UNDO.implementation
    async def undo(self, what: str) -> str:
        self.calls.append(("undo", what))
        return what


@playbook
class GdprClock(Playbook):
    name = "test-gdpr-clock"
    description = "Starts the GDPR Art. 33 clock from awareness and waits for the filing."

    async def respond(self, incident: IncidentStart) -> None:
        await self.set_severity(Severity.CRITICAL, "personal data of EU residents")
        await self.start_clock(
            ClockKind.GDPR_ART33,
            started_at=incident.opened_at,
            basis=ClockBasis.AWARENESS,
            escalate_to=["group:dpo"],
        )


@playbook
class HandOff(Playbook):
    name = "test-hand-off"
    description = "Escalates by running another playbook as a child, then carries on."

    async def respond(self, incident: IncidentStart) -> None:
        result = await self.child("test-child-leak", suffix="leak")
        await self.record("handoff.done", f"Child finished with {len(result.steps_done)} steps")


@playbook
class ChildLeak(Playbook):
    name = "test-child-leak"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("capture", FAKE_ACTION, "capture", undo=None)


@playbook
class Heads(Playbook):
    name = "test-notify"

    async def respond(self, incident: IncidentStart) -> None:
        told = await self.notify(f"{incident.ref}: key revoked", to=["group:oncall", "zoe"])
        await self.record("notify.done", f"told {len(told)}")


@playbook
class AskThroughChild(Playbook):
    name = "test-ask-through-child"
    description = "Hands the leak to a child that asks for approval itself."

    async def respond(self, incident: IncidentStart) -> None:
        result = await self.child("test-child-asks", suffix="asks")
        await self.record("handoff.done", f"Child did {', '.join(result.steps_done)}")


@playbook
class ChildAsks(Playbook):
    name = "test-child-asks"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("capture", FAKE_ACTION, "capture", undo=None)
        decision = await self.approve(
            "purge",
            question="Purge the conversation's memory?",
            approvers=["group:oncall"],
            timeout=timedelta(hours=1),
            fallback=Fallback.SKIP,
        )
        if decision.approved:
            await self.step("purge", FAKE_ACTION, "purge", undo=None)


@playbook
class AskThroughGrandchild(Playbook):
    name = "test-ask-through-grandchild"

    async def respond(self, incident: IncidentStart) -> None:
        await self.child("test-ask-through-child", suffix="mid")
        await self.record("grandchild.done", "Grandchild finished")


@playbook
class SameStepAsChild(Playbook):
    name = "test-same-step-as-child"

    async def respond(self, incident: IncidentStart) -> None:
        await self.parallel(
            self.child("test-child-asks", suffix="asks"),
            self.approve(
                "purge",
                question="Purge the cache?",
                approvers=["group:leads"],
                timeout=timedelta(hours=1),
                fallback=Fallback.SKIP,
            ),
        )
