"""A playbook for the console tests (own module: the workflow sandbox re-imports it)."""

from __future__ import annotations

from smokejumper.domain.evidence import EvidenceCapture
from smokejumper.domain.incidents import IncidentStart, IncidentStatus
from smokejumper.sdk import CAPTURE_EVIDENCE
from smokejumper.sdk.playbook import Playbook, playbook

# Raw evidence with a credential in it: only responders may read it unredacted.
LEAKED = "model output: here is the key AKIAIOSFODNN7EXAMPLE for the billing bucket"


@playbook
class IsolateOnApproval(Playbook):
    name = "test-console-isolate"
    description = "Capture the leaked output, then isolate once on-call approves."

    async def respond(self, incident: IncidentStart) -> None:
        await self.step(
            "capture output",
            CAPTURE_EVIDENCE,
            EvidenceCapture(
                incident_id=incident.incident_id,
                name="model.output",
                kind="alert.response",
                content=LEAKED,
                captured_by="playbook:test-console-isolate",
            ),
        )
        decision = await self.approve(
            "isolate", question="Take the support endpoint offline?", approvers=["group:oncall"]
        )
        if decision.approved:
            await self.record("isolate.done", "Endpoint isolated", step="isolate")


@playbook
class HandOffNothingToActOn(Playbook):
    name = "test-console-handoff"
    description = "A containment step with nothing to act on, handed to on-call."
    handoff_approvers = ["group:oncall"]

    async def respond(self, incident: IncidentStart) -> None:
        await self.missing("quarantine page", "the alert names no page")
        await self.set_status(IncidentStatus.CONTAINED, "page quarantined")
