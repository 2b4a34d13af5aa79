"""A playbook that rolls a model back, for the end-to-end test (own module: the sandbox
re-imports it)."""

from __future__ import annotations

from temporalio import workflow

from smokejumper.domain.containment import ModelAction
from smokejumper.domain.incidents import IncidentStart
from smokejumper.sdk import ROLLBACK_MODEL
from smokejumper.sdk.playbook import Playbook, playbook


@playbook
class RollBackModel(Playbook):
    name = "test-rollback-model"
    description = "Rolls back @production of the MLflow model named by the incident title."

    async def respond(self, incident: IncidentStart) -> None:
        action = ModelAction(
            incident_id=incident.incident_id,
            step="roll back model",
            provider="mlflow",
            model=incident.title,
        )
        # The result names `model@alias` as its target; the undo gets the action itself.
        await self.step("roll back model", ROLLBACK_MODEL, action)
        # Holds the incident open, as a responder investigating would, until aborted.
        await workflow.wait_condition(lambda: False)
