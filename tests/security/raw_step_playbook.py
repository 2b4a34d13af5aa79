"""A playbook written before step names masked key ids: its step names carry one in clear
(own module: the workflow sandbox re-imports it)."""

from __future__ import annotations

from smokejumper.domain.evidence import EvidenceCapture
from smokejumper.domain.incidents import IncidentStart
from smokejumper.sdk import CAPTURE_EVIDENCE
from smokejumper.sdk.playbook import Playbook, playbook

KEY_ID = "AKIAZ7QX3MPLK9WEB2TY"


@playbook
class RawStepNames(Playbook):
    name = "test-raw-step-names"
    description = "Names a step after a leaked key id, then waits for an approval."

    async def respond(self, incident: IncidentStart) -> None:
        await self.step(
            f"capture what {KEY_ID} leaked",
            CAPTURE_EVIDENCE,
            EvidenceCapture(
                incident_id=incident.incident_id,
                name="model.output",
                kind="alert.response",
                content=f"the key {KEY_ID} was printed",
                captured_by="playbook:test-raw-step-names",
            ),
        )
        await self.approve(
            "isolate", question=f"Isolate the endpoint {KEY_ID} was used on?", approvers=["x"]
        )
