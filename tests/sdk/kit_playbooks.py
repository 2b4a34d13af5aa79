"""Playbooks for the testing kit's own tests (own module: the sandbox re-imports it)."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError

from smokejumper.sdk import Contract, IncidentStart, Playbook, playbook

# The fakes answer anything; a dry run would echo the argument.
PAGE_OWNER = Contract("page_owner", object, object, rehearse=lambda arg, _: arg)
OPEN_TICKET = Contract("open_ticket", object, object, rehearse=lambda arg, _: arg)
NOBODY_IMPLEMENTS = Contract("nobody_registers_this", str, str)
NEVER_ANSWERS = Contract("never_answers", str, str)


@playbook
class CallsTwoProviders(Playbook):
    name = "test-kit-two-providers"

    async def respond(self, incident: IncidentStart) -> None:
        first: Any = await self.step("page", PAGE_OWNER, {"ref": incident.ref})
        await self.step("ticket", OPEN_TICKET, first)
        await self.step("page again", PAGE_OWNER, None)


@playbook
class CallsNobody(Playbook):
    name = "test-kit-unregistered"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("call", NOBODY_IMPLEMENTS, incident.ref)


@NEVER_ANSWERS.implementation
async def never_answers(ref: str) -> str:
    raise ApplicationError(f"provider unavailable for {ref}")


@playbook
class WaitsOnAFailingProvider(Playbook):
    name = "test-kit-failing"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("call", NEVER_ANSWERS, incident.ref)


@playbook
class NamesItsActivity(Playbook):
    """Written before contracts: it names the activity."""

    name = "test-contract-by-name"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("rotate", "rotate_key", incident.ref)  # type: ignore[call-overload]
