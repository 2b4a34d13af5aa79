"""A stand-in playbook for routing tests (its own module: the workflow sandbox re-imports it)."""

from __future__ import annotations

from smokejumper.domain.incidents import IncidentStart
from smokejumper.sdk.playbook import Playbook, playbook


@playbook
class ContainInjection(Playbook):
    """Routing is under test, not the steps."""

    name = "contain-injection"

    async def respond(self, incident: IncidentStart) -> None:
        await self.record("contain.pretend", "Would contain the injection", step="contain")
