"""Acting on an incident's running playbook, the one way the API, the console and Slack
all do it: find the run that serves the incident, send the update, and turn what Temporal
answers into the playbook's own words.

Deciding an approval (or a hand-off) is `decide`; closing, aborting, restoring and
stopping a clock go through `send_update` too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from smokejumper.domain.incidents import QUERY_STATE, UPDATE_DECIDE, IncidentState
from smokejumper.incidents.service import find_incident
from smokejumper.sdk.approvals import DecisionRequest, VoteReceipt
from smokejumper.store.db import Store

ResultT = TypeVar("ResultT", bound=BaseModel)
Temporal = Callable[[], Awaitable[Client]]

_NOT_READY_ATTEMPTS = 5


class IncidentNotFound(LookupError):
    """No incident has that reference or number."""

    def __init__(self, incident_id: str) -> None:
        super().__init__(f"no incident {incident_id!r}")
        self.incident_id = incident_id


class PlaybookRefused(Exception):
    """The playbook refused (its validator's words), or no run of it is there to ask:
    `no_run` tells the two apart, for callers that word them differently."""

    def __init__(self, message: str, *, no_run: bool = False) -> None:
        super().__init__(message)
        self.no_run = no_run


async def run_handle(
    store: Store, temporal: Temporal, incident_id: str
) -> WorkflowHandle[Any, Any]:
    """The run of the incident asked for, and no other.

    Incidents opened before workflow ids named the incident share `incident-<fingerprint>`
    with the other incidents of their fingerprint: the run answering there must say it
    serves this incident, or the action is refused rather than landing on another one.
    """

    def lookup() -> tuple[int, str] | None:
        with store.session() as session:
            incident = find_incident(session, incident_id)
            return (incident.id, incident.workflow_id) if incident is not None else None

    found = await asyncio.to_thread(lookup)
    if found is None:
        raise IncidentNotFound(incident_id)
    number, workflow_id = found
    handle = (await temporal()).get_workflow_handle(workflow_id)
    if workflow_id.endswith(f"-{number}"):
        return handle
    try:
        serving = await handle.query(QUERY_STATE, result_type=IncidentState)
    except (RPCError, WorkflowQueryFailedError):
        return handle  # not running: the update answers "no running playbook"
    if serving.incident_id != number:
        raise PlaybookRefused(
            f"incident {incident_id} has no running playbook "
            f"(workflow {workflow_id} now serves {serving.ref})",
            no_run=True,
        )
    return handle


def refusal(exc: WorkflowUpdateFailedError | RPCError, incident_id: str) -> PlaybookRefused:
    """What the playbook said, without the exception type Temporal prefixes; an RPC error
    other than "no such run" is not a refusal and is raised as it is."""
    if isinstance(exc, WorkflowUpdateFailedError):
        cause = exc.cause
        return PlaybookRefused(
            cause.message if isinstance(cause, FailureError) else str(cause or exc)
        )
    if exc.status == RPCStatusCode.NOT_FOUND:
        return PlaybookRefused(f"incident {incident_id} has no running playbook", no_run=True)
    raise exc


async def send_update(
    store: Store,
    temporal: Temporal,
    incident_id: str,
    name: str,
    arg: BaseModel,
    result: type[ResultT],
) -> ResultT:
    """Send update `name` to the incident's run and return its answer; raises
    IncidentNotFound or PlaybookRefused."""
    handle = await run_handle(store, temporal, incident_id)
    # One id for every attempt: an attempt the server did apply after all (its answer lost
    # to a failed precondition or a timeout) is answered again, not applied twice.
    update_id = f"{name}-{uuid.uuid4().hex}"
    for attempt in range(1, _NOT_READY_ATTEMPTS + 1):
        try:
            answer: ResultT = await handle.execute_update(
                name, arg, id=update_id, result_type=result
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.FAILED_PRECONDITION and attempt < _NOT_READY_ATTEMPTS:
                # The workflow task carrying the update was not accepted (a close that
                # stops a step just as it starts): nothing was applied, so ask again.
                await asyncio.sleep(0.2 * attempt)
                continue
            raise refusal(exc, incident_id) from None
        except WorkflowUpdateFailedError as exc:
            raise refusal(exc, incident_id) from None
        return answer
    raise AssertionError("unreachable")


async def decide(
    store: Store, temporal: Temporal, incident_id: str, request: DecisionRequest
) -> VoteReceipt:
    """One vote on an approval or a hand-off, through the playbook's `decide` update and
    its validator; raises IncidentNotFound or PlaybookRefused."""
    return await send_update(store, temporal, incident_id, UPDATE_DECIDE, request, VoteReceipt)
