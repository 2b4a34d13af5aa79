"""A playbook for the e-mail tests (own module: the workflow sandbox re-imports it)."""

from __future__ import annotations

from smokejumper.domain.containment import KeyAction
from smokejumper.domain.incidents import IncidentStart, IncidentStatus
from smokejumper.sdk import REVOKE_KEY
from smokejumper.sdk.playbook import Playbook, playbook

FIRST_KEY = "key-mail-web"
SECOND_KEY = "key-mail-batch"
# The question names the leaked key: the mails and the confirmation page must mask it.
LEAKED_IN_QUESTION = "sk-proj-Qm7vX2kLp9RtW4nY8bZ1cD6fH3jK0aGe7uTs"


@playbook
class ContainByEmail(Playbook):
    """Revokes a key at once, asks two people to revoke a second one, then resolves."""

    name = "test-email-contain"

    async def respond(self, incident: IncidentStart) -> None:
        await self._revoke("revoke key", FIRST_KEY)
        decision = await self.approve(
            "revoke batch key",
            question=f"Revoke the batch job's key too? It was seen with {LEAKED_IN_QUESTION}",
            risk="Nightly exports stop until the key is restored.",
            approvers=["group:oncall"],
            min_approvals=2,
        )
        if decision.approved:
            await self._revoke("revoke batch key", SECOND_KEY)
        await self.set_status(IncidentStatus.RESOLVED, "both keys revoked")

    async def _revoke(self, step: str, key_id: str) -> None:
        await self.step(
            step,
            REVOKE_KEY,
            KeyAction(
                incident_id=self.incident.incident_id, step=step, provider="local", key_id=key_id
            ),
        )
