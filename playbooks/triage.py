"""`triage`: the playbook for alerts that no other playbook claims.

It opens the case, says on the timeline that a responder has to look, collects every
further alert with the same fingerprint and keeps the incident open until it is closed.
"""

from __future__ import annotations

from smokejumper.sdk import IncidentStart, Playbook, playbook


@playbook
class Triage(Playbook):
    name = "triage"
    description = "No playbook route matched: keep the incident open for a responder."

    async def respond(self, incident: IncidentStart) -> None:
        await self.record(
            "triage.waiting",
            "No playbook claims this alert; waiting for a responder to triage it",
            step="triage",
        )
