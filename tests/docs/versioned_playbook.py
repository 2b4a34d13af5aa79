"""One playbook in three versions, for "Changing a playbook" in docs/writing-playbooks.md.

v1 was deployed and incidents ran on it (tests/histories/example-revoke-key.json is one);
v2 adds a step, guarded by a patch; the unguarded v2 is the change that must not ship.
All three share the workflow name, so only one of them is ever registered at a time.

(`# --8<--` lines cut this file into the parts the guide shows;
tests/docs/test_doc_matches_code.py keeps both identical.)
"""

from __future__ import annotations

from temporalio import workflow

from smokejumper.sdk import IncidentStart, Playbook, playbook
from tests.docs.example_playbook import NOTIFY_OWNER, REVOKE_API_KEY, SNAPSHOT_CONVERSATION


# --8<--
@playbook
class RevokeKeyV1(Playbook):
    name = "example-revoke-key"
    version = "1"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("revoke key", REVOKE_API_KEY, incident.ref)
        await self.step("notify owner", NOTIFY_OWNER, incident.ref)


# --8<--
@playbook
class RevokeKeyV2(Playbook):
    name = "example-revoke-key"
    version = "2"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("revoke key", REVOKE_API_KEY, incident.ref)
        # Incidents that v1 started replay without this step; new ones take it.
        if workflow.patched("snapshot-before-notify"):
            await self.step("snapshot conversation", SNAPSHOT_CONVERSATION, incident.ref)
        await self.step("notify owner", NOTIFY_OWNER, incident.ref)


# --8<--
@playbook
class RevokeKeyV2Unguarded(Playbook):
    name = "example-revoke-key"
    version = "2"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("revoke key", REVOKE_API_KEY, incident.ref)
        await self.step("snapshot conversation", SNAPSHOT_CONVERSATION, incident.ref)
        await self.step("notify owner", NOTIFY_OWNER, incident.ref)
