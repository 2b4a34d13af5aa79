"""The benchmark playbooks: containment first, as a real leak response would do it.

Loaded through `playbook_dirs` by the worker the benchmarks start (the sandbox re-imports
this module for every incident, so it imports only temporalio and smokejumper). The alert's
title names the `local` key (and endpoint) to contain, so each incident touches its own.
"""

from __future__ import annotations

from smokejumper.domain.alerts import AlertKind
from smokejumper.domain.containment import ActionResult, EndpointAction, KeyAction
from smokejumper.domain.incidents import IncidentStart, IncidentStatus
from smokejumper.domain.routing import Route
from smokejumper.sdk import ISOLATE_ENDPOINT, REVOKE_KEY
from smokejumper.sdk.playbook import Playbook, playbook

APPROVER = "operator"


@playbook
class RevokeFirst(Playbook):
    name = "bench-revoke-first"
    description = "Revokes the leaked key at once (no approval), then waits for a responder."
    triggers = [Route(playbook="bench-revoke-first", kinds=(AlertKind.DATA_LEAKAGE,))]

    async def respond(self, incident: IncidentStart) -> None:
        await revoke(self, incident)
        await self.set_status(IncidentStatus.CONTAINED, "key revoked")


@playbook
class RevokeThenApprove(Playbook):
    name = "bench-revoke-then-approve"
    description = "Revokes the leaked key, then isolates its endpoint once a responder agrees."
    triggers = [Route(playbook="bench-revoke-then-approve", kinds=(AlertKind.MODEL_EXTRACTION,))]

    async def respond(self, incident: IncidentStart) -> None:
        await revoke(self, incident)
        decision = await self.approve(
            "isolate endpoint",
            question="Take the endpoint offline?",
            risk="Its users lose service until it is restored",
            approvers=[APPROVER],
        )
        if decision.approved:
            await self.step(
                "isolate endpoint",
                ISOLATE_ENDPOINT,
                EndpointAction(
                    incident_id=incident.incident_id,
                    step="isolate endpoint",
                    provider="local",
                    endpoint=incident.title,
                    reason="approved by a responder",
                ),
            )


async def revoke(playbook: Playbook, incident: IncidentStart) -> ActionResult | None:
    return await playbook.step(
        "revoke key",
        REVOKE_KEY,
        KeyAction(
            incident_id=incident.incident_id,
            step="revoke key",
            provider="local",
            key_id=incident.title,
        ),
    )
