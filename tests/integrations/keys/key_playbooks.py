"""A playbook that revokes a key, for the end-to-end test (own module: the sandbox
re-imports it)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from smokejumper.domain.containment import ActionResult, KeyAction
    from smokejumper.domain.incidents import IncidentStart
    from smokejumper.sdk.playbook import Playbook, playbook


@playbook
class RevokeLeakedKey(Playbook):
    name = "test-revoke-key"
    description = "Revokes the AWS access key named by the incident title, then waits."

    async def respond(self, incident: IncidentStart) -> None:
        await self.step(
            "revoke key",
            "revoke_key",
            KeyAction(
                incident_id=incident.incident_id,
                step="revoke key",
                provider="aws_iam",
                key_id=incident.title,
            ),
            result_type=ActionResult,
            undo="restore_key",
        )
        # Holds the incident open, as a responder investigating would, until aborted.
        await workflow.wait_condition(lambda: False)


@playbook
class RevokeLeakedOpenAIKey(Playbook):
    name = "test-revoke-openai-key"
    description = "Deletes the OpenAI project key named by the incident title, then waits."

    async def respond(self, incident: IncidentStart) -> None:
        await self.step(
            "revoke key",
            "revoke_key",
            KeyAction(
                incident_id=incident.incident_id,
                step="revoke key",
                provider="openai",
                key_id=incident.title,
            ),
            result_type=ActionResult,
            undo="restore_key",
        )
        await workflow.wait_condition(lambda: False)
