"""A playbook for the Slack tests (own module: the workflow sandbox re-imports it)."""

from __future__ import annotations

from smokejumper.domain.containment import KeyAction
from smokejumper.domain.incidents import IncidentStart
from smokejumper.sdk import REVOKE_KEY
from smokejumper.sdk.playbook import Playbook, playbook

FIRST_KEY = "key-support-web"
SECOND_KEY = "key-support-batch"


@playbook
class ContainInSlack(Playbook):
    """Revokes a key (no approval), asks to revoke a second one, then tells responders."""

    name = "test-slack-contain"

    async def respond(self, incident: IncidentStart) -> None:
        await self._revoke("revoke key", FIRST_KEY)
        decision = await self.approve(
            "revoke batch key",
            question="Revoke the batch job's key too?",
            risk="Nightly exports stop until the key is restored.",
            approvers=["group:oncall"],
        )
        if decision.approved:
            await self._revoke("revoke batch key", SECOND_KEY)
        await self.notify("Containment finished; please review", to=["group:oncall"])

    async def _revoke(self, step: str, key_id: str) -> None:
        await self.step(
            step,
            REVOKE_KEY,
            KeyAction(
                incident_id=self.incident.incident_id, step=step, provider="local", key_id=key_id
            ),
        )
