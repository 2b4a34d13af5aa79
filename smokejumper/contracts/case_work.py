"""A playbook naming who leads and who works its incident: `self.assign(...)`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from smokejumper.contracts.base import STORE, Contract, Rehearsal


class AssignRequest(BaseModel):
    """People by name, or `group:<name>`: a group as commander means its on-call, the
    first member listed under `approvers.<name>`; as assignees, every member."""

    incident_id: int
    commander: str | None = None
    assignees: list[str] = Field(default_factory=list)
    actor: str


class Assigned(BaseModel):
    commander: str | None = None
    assignees: list[str] = Field(default_factory=list)
    # Named people who are not known responders, left out rather than failing the run.
    skipped: list[str] = Field(default_factory=list)


def _rehearsed(request: AssignRequest, _: Rehearsal) -> Assigned:
    return Assigned(commander=request.commander, assignees=list(request.assignees))


ASSIGN_RESPONDERS = Contract(
    "assign_responders",
    AssignRequest,
    Assigned,
    retry=STORE,
    rehearse=_rehearsed,
    description="Set the incident's commander and add assignees (groups resolved from "
    "the approver groups); returns who they are.",
)
