"""`GET /api/v1/incidents` and `GET /api/v1/incidents/{id}`."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from smokejumper.api.auth import ViewerAccess
from smokejumper.api.state import AppState, app_state
from smokejumper.domain.alerts import AlertKind, Severity
from smokejumper.domain.incidents import QUERY_STATE, IncidentState, IncidentStatus
from smokejumper.incidents.schemas import IncidentDetail, IncidentPage
from smokejumper.incidents.service import (
    awaiting_lift,
    find_incident,
    incident_detail,
    list_incidents,
)
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.masking import mask
from smokejumper.redaction import Redactor

router = APIRouter(prefix="/api/v1", tags=["incidents"])


@router.get("/incidents", response_model=IncidentPage)
async def get_incidents(
    state: Annotated[AppState, Depends(app_state)],
    _caller: ViewerAccess,
    status: IncidentStatus | None = None,
    severity: Severity | None = None,
    kind: AlertKind | None = None,
    playbook: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> IncidentPage:
    def query() -> IncidentPage:
        with state.store.session() as session:
            return list_incidents(
                session,
                status=status.value if status else None,
                severity=severity.value if severity else None,
                kind=kind.value if kind else None,
                playbook=playbook,
                limit=limit,
                offset=offset,
            )

    return await asyncio.to_thread(query)


@router.get(
    "/incidents/{incident_id}",
    response_model=IncidentDetail,
    responses={401: {"description": "No bearer token"}, 404: {"description": "No such incident"}},
)
async def get_incident(
    incident_id: Annotated[str, Path(max_length=120)],
    state: Annotated[AppState, Depends(app_state)],
    _caller: ViewerAccess,
) -> IncidentDetail:
    settings = state.settings

    def query() -> tuple[IncidentDetail, Redactor] | None:
        with state.store.session() as session:
            incident = find_incident(session, incident_id)
            if incident is None:
                return None
            redactor = redactor_for(state.store, settings)
            detail = incident_detail(
                session,
                incident,
                settings.temporal.ui_url,
                settings.temporal.namespace,
                redactor,
            )
            return detail, redactor

    found = await asyncio.to_thread(query)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no incident {incident_id!r}")
    detail, redactor = found
    await attach_live_state(state, detail, redactor)
    return detail


async def attach_live_state(state: AppState, detail: IncidentDetail, redactor: Redactor) -> None:
    """Ask the incident's run for its live state, where one may still answer: an open
    incident's, or a closed one's that waits for the lift of its containment."""
    if detail.status != IncidentStatus.CLOSED.value or awaiting_lift(detail):
        detail.live = await _live_state(state, detail.workflow_id, detail.number, redactor)


async def _live_state(
    state: AppState, workflow_id: str, number: int, redactor: Redactor
) -> IncidentState | None:
    """What the incident's run says, if it runs and serves this incident (an incident
    opened before workflow ids named the incident shares its id with the others of its
    fingerprint)."""
    try:
        client = await asyncio.wait_for(state.temporal(), timeout=2)
        live: IncidentState = await asyncio.wait_for(
            client.get_workflow_handle(workflow_id).query(QUERY_STATE, result_type=IncidentState),
            timeout=3,
        )
    except (TimeoutError, RPCError, RuntimeError, WorkflowQueryFailedError):
        # The stored incident is still the answer when the playbook cannot be asked.
        return None
    if live.incident_id != number:
        return None
    # A run started before step names carried masked key ids still reports them in clear.
    # Pending approvals stay as named: a decision must name the step exactly.
    return live.model_copy(
        update={
            "steps_done": [mask(step, redactor) for step in live.steps_done],
            "current_step": mask(live.current_step, redactor) if live.current_step else None,
        }
    )
