"""The playbook the fault tests break things under (loaded through `playbook_dirs` by a
worker process, so it imports only temporalio and smokejumper).

The alert title names its targets: `<local key> <AWS access key id>`. Steps are short
(10 s timeouts), so an attempt lost with a killed worker is retried within the test.
"""

from __future__ import annotations

from datetime import timedelta

from smokejumper.domain.alerts import AlertKind
from smokejumper.domain.containment import EndpointAction, KeyAction
from smokejumper.domain.incidents import IncidentStart
from smokejumper.domain.routing import Route
from smokejumper.sdk import ISOLATE_ENDPOINT, REVOKE_KEY
from smokejumper.sdk.playbook import Playbook, playbook

STEP_TIMEOUT = timedelta(seconds=10)


@playbook
class ContainEverywhere(Playbook):
    name = "fault-contain"
    description = "Revokes a local and an AWS key, then isolates the local endpoint."
    triggers = [Route(playbook="fault-contain", kinds=(AlertKind.DATA_LEAKAGE,))]

    async def respond(self, incident: IncidentStart) -> None:
        local_key, aws_key = incident.title.split()
        for step, provider, key_id in (
            ("revoke local key", "local", local_key),
            ("revoke aws key", "aws_iam", aws_key),
        ):
            await self.step(
                step,
                REVOKE_KEY,
                KeyAction(
                    incident_id=incident.incident_id, step=step, provider=provider, key_id=key_id
                ),
                undo=None,
                timeout=STEP_TIMEOUT,
            )
        await self.step(
            "isolate endpoint",
            ISOLATE_ENDPOINT,
            EndpointAction(
                incident_id=incident.incident_id,
                step="isolate endpoint",
                provider="local",
                endpoint=local_key,
            ),
            undo=None,
            timeout=STEP_TIMEOUT,
        )
