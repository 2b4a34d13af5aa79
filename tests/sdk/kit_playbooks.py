"""Playbooks for the testing kit's own tests (own module: the sandbox re-imports it)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from smokejumper.domain.incidents import IncidentStart
    from smokejumper.sdk.playbook import Playbook, playbook


@playbook
class CallsTwoProviders(Playbook):
    name = "test-kit-two-providers"

    async def respond(self, incident: IncidentStart) -> None:
        first = await self.step("page", "page_owner", {"ref": incident.ref}, result_type=str)
        await self.step("ticket", "open_ticket", first)
        await self.step("page again", "page_owner", None)


@playbook
class CallsNobody(Playbook):
    name = "test-kit-unregistered"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("call", "nobody_registers_this", incident.ref)
