"""One playbook in three versions, for "Changing a playbook" in docs/writing-playbooks.md.

v1 was deployed and incidents ran on it (tests/histories/example-revoke-key.json is one);
v2 adds a step, guarded by a patch; the unguarded v2 is the change that must not ship.
All three share the workflow name, so only one of them is ever registered at a time.

(`# --8<--` lines cut this file into the parts the guide shows;
tests/docs/test_doc_matches_code.py keeps both identical.)
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from smokejumper.domain.incidents import IncidentStart
    from smokejumper.sdk.playbook import Playbook, playbook


# --8<--
@playbook
class RevokeKeyV1(Playbook):
    name = "example-revoke-key"
    version = "1"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("revoke key", "revoke_api_key", incident.ref, undo="restore_api_key")
        await self.step("notify owner", "notify_owner", incident.ref)


# --8<--
@playbook
class RevokeKeyV2(Playbook):
    name = "example-revoke-key"
    version = "2"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("revoke key", "revoke_api_key", incident.ref, undo="restore_api_key")
        # Incidents that v1 started replay without this step; new ones take it.
        if workflow.patched("snapshot-before-notify"):
            await self.step("snapshot conversation", "snapshot_conversation", incident.ref)
        await self.step("notify owner", "notify_owner", incident.ref)


# --8<--
@playbook
class RevokeKeyV2Unguarded(Playbook):
    name = "example-revoke-key"
    version = "2"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("revoke key", "revoke_api_key", incident.ref, undo="restore_api_key")
        await self.step("snapshot conversation", "snapshot_conversation", incident.ref)
        await self.step("notify owner", "notify_owner", incident.ref)
