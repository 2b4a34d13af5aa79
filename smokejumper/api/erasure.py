"""Erasure on request over the API (admins): `POST /api/v1/erasures`.

The evidence store, whose objects are rewritten, lives in `integrations/`: the process
that builds the app sets `app.state.evidence_objects`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request

from smokejumper.api.auth import AdminAccess
from smokejumper.api.state import AppState, app_state
from smokejumper.incidents import erasure
from smokejumper.incidents.erasure import ErasureReport, ErasureRequest, EvidenceObjects

router = APIRouter(prefix="/api/v1", tags=["erasure"])


def evidence_objects(request: Request) -> EvidenceObjects | None:
    objects: EvidenceObjects | None = getattr(request.app.state, "evidence_objects", None)
    return objects


@router.post(
    "/erasures",
    response_model=ErasureReport,
    responses={
        403: {},
        422: {"description": "The subject is not one personal-data value"},
        503: {"description": "This API process has no evidence store"},
    },
)
async def erase(
    request: ErasureRequest,
    state: Annotated[AppState, Depends(app_state)],
    objects: Annotated[EvidenceObjects | None, Depends(evidence_objects)],
    caller: AdminAccess,
) -> ErasureReport:
    """Erase one data subject's personal data (GDPR Art. 17) from alerts, dead letters,
    incidents and their notes, tasks and other case records, timelines, evidence and the
    audit log; what a legal hold keeps is withheld and listed. The audit log records a
    keyed hash of the subject and counts, never the subject."""
    if objects is None:
        raise HTTPException(status_code=503, detail="this API process has no evidence store")
    try:
        return await asyncio.to_thread(
            erasure.erase, state.store, request, objects, by=caller.name, via=caller.via
        )
    except erasure.NotPersonalData as exc:
        raise HTTPException(
            status_code=422,
            detail=[{"loc": ["body", "subject"], "msg": str(exc), "type": "value_error"}],
        ) from None
