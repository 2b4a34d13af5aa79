"""Playbooks that revoke a key, for the end-to-end test (own module: the sandbox
re-imports it)."""

from __future__ import annotations

from temporalio import workflow

from smokejumper.domain.containment import KeyAction
from smokejumper.domain.incidents import IncidentStart
from smokejumper.sdk import REVOKE_KEY
from smokejumper.sdk.playbook import Playbook, playbook


async def revoke_then_wait(flow: Playbook, incident: IncidentStart, provider: str) -> None:
    """Revoke the key named by the incident title at `provider`, then hold the incident
    open, as a responder investigating would, until aborted."""
    await flow.step(
        "revoke key",
        REVOKE_KEY,
        KeyAction(
            incident_id=incident.incident_id,
            step="revoke key",
            provider=provider,
            key_id=incident.title,
        ),
    )
    await workflow.wait_condition(lambda: False)


@playbook
class RevokeLeakedKey(Playbook):
    name = "test-revoke-key"
    description = "Revokes the AWS access key named by the incident title, then waits."

    async def respond(self, incident: IncidentStart) -> None:
        await revoke_then_wait(self, incident, "aws_iam")


@playbook
class RevokeLeakedOpenAIKey(Playbook):
    name = "test-revoke-openai-key"
    description = "Deletes the OpenAI project key named by the incident title, then waits."

    async def respond(self, incident: IncidentStart) -> None:
        await revoke_then_wait(self, incident, "openai")


@playbook
class RevokeLeakedVaultLeases(Playbook):
    name = "test-revoke-vault-leases"
    description = "Revokes the Vault leases under the prefix named by the incident title."

    async def respond(self, incident: IncidentStart) -> None:
        await revoke_then_wait(self, incident, "vault_lease")
