"""The playbook of the console's live-page tests (own module: the workflow sandbox
re-imports it). Two people approve; then the endpoint named last in the alert's title is
isolated (its reason carries a credential, to be masked in the diff), the outcome is
captured as evidence and the incident is contained."""

from __future__ import annotations

from smokejumper.domain.containment import EndpointAction
from smokejumper.domain.evidence import EvidenceCapture
from smokejumper.domain.incidents import IncidentStart, IncidentStatus
from smokejumper.sdk import CAPTURE_EVIDENCE, ISOLATE_ENDPOINT
from smokejumper.sdk.playbook import Playbook, playbook

SECRET = "AKIAIOSFODNN7EXAMPLE"


@playbook
class TwoPersonIsolate(Playbook):
    name = "test-console-two-person"
    description = "Isolate an endpoint once two on-call responders approve."

    async def respond(self, incident: IncidentStart) -> None:
        endpoint = incident.title.split()[-1]
        decision = await self.approve(
            "isolate",
            question=f"Take {endpoint} offline?",
            approvers=["group:oncall"],
            min_approvals=2,
        )
        if not decision.approved:
            return
        await self.step(
            "isolate",
            ISOLATE_ENDPOINT,
            EndpointAction(
                incident_id=incident.incident_id,
                step="isolate",
                provider="local",
                endpoint=endpoint,
                reason=f"leaked key {SECRET}",
            ),
            undo=None,
        )
        await self.step(
            "capture outcome",
            CAPTURE_EVIDENCE,
            EvidenceCapture(
                incident_id=incident.incident_id,
                name="isolation.log",
                kind="provider.response",
                content=f"{endpoint} isolated",
                captured_by="playbook:test-console-two-person",
            ),
        )
        await self.set_status(IncidentStatus.CONTAINED, f"{endpoint} isolated")
