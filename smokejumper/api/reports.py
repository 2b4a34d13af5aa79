"""`GET /api/v1/incidents/{id}/report`: the post-incident report, redacted."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response

from smokejumper.api.auth import ViewerAccess
from smokejumper.api.state import AppState, app_state
from smokejumper.incidents.service import find_incident
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.reports.render import MEDIA_TYPES, Format, incident_report

router = APIRouter(prefix="/api/v1", tags=["incidents"])


@router.get(
    "/incidents/{incident_id}/report",
    response_class=Response,
    responses={
        200: {"content": {media: {} for media in MEDIA_TYPES.values()}},
        401: {"description": "Not signed in, or no token"},
        404: {"description": "No such incident"},
    },
)
async def get_report(
    incident_id: Annotated[str, Path(max_length=120)],
    state: Annotated[AppState, Depends(app_state)],
    # Whoever may see the incident may read its report: it is the redacted, masked
    # account (Slack hands its link to the whole channel); raw values stay behind the
    # raw endpoints.
    _caller: ViewerAccess,
    # A Literal is validated by FastAPI, so a bad value gets the documented 422 body.
    format: Annotated[
        Format, Query(description="`md` (Markdown), `html` (printable, self-contained) or `json`.")
    ] = "md",
) -> Response:
    fmt: Format = format

    def render() -> str | None:
        redactor = redactor_for(state.store, state.settings)
        with state.store.session() as session:
            incident = find_incident(session, incident_id)
            found = incident.id if incident is not None else None
        if found is None:
            return None
        return incident_report(state.store, found, fmt, redactor)

    body = await asyncio.to_thread(render)
    if body is None:
        raise HTTPException(status_code=404, detail=f"no incident {incident_id!r}")
    return Response(content=body, media_type=MEDIA_TYPES[fmt])
