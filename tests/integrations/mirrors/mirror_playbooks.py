"""A playbook for the mirror tests (own module: the workflow sandbox re-imports it)."""

from __future__ import annotations

from datetime import timedelta

from smokejumper.domain.containment import KeyAction
from smokejumper.domain.incidents import IncidentStart
from smokejumper.sdk import REVOKE_KEY
from smokejumper.sdk.playbook import Playbook, playbook

LEAKED_KEY = "key-support-web"


@playbook
class ContainAndWait(Playbook):
    """Revokes the leaked key, then stays open for responders (until closed)."""

    name = "test-mirror-contain"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step(
            "revoke key",
            REVOKE_KEY,
            KeyAction(
                incident_id=self.incident.incident_id,
                step="revoke key",
                provider="local",
                key_id=LEAKED_KEY,
            ),
        )
        await self.wait(timedelta(hours=1))
