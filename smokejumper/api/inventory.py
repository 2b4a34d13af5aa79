"""`GET /api/v1/inventory/blast-radius`: what an incident on one inventory entry reaches,
as `smokejumper inventory blast-radius --json` and the incident page show it, with key ids
masked as everywhere a viewer reads them."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from smokejumper.api.auth import ViewerAccess
from smokejumper.api.state import AppState, app_state
from smokejumper.inventory.blast_radius import BlastRadius, TargetError, blast_radius
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.masking import mask, mask_target
from smokejumper.redaction import Redactor

router = APIRouter(prefix="/api/v1", tags=["inventory"])

TARGET_HELP = (
    "model:<name>[@<version>], endpoint:<name>, key:<key_id>, application:<name> or dataset:<name>."
)


def masked_radius(radius: BlastRadius, redactor: Redactor) -> dict[str, Any]:
    """The radius as JSON with every key id masked (they are credential ids)."""
    found = radius.to_dict()
    found["target"] = mask_target(radius.target, redactor)
    found["keys"] = [mask(key, redactor) for key in found["keys"]]
    found["key_endpoints"] = {
        mask(key, redactor): endpoints for key, endpoints in found["key_endpoints"].items()
    }
    return found


@router.get(
    "/inventory/blast-radius",
    responses={404: {"description": "The inventory has no such entry"}},
)
async def get_blast_radius(
    state: Annotated[AppState, Depends(app_state)],
    _caller: ViewerAccess,
    target: Annotated[str, Query(min_length=1, max_length=300, description=TARGET_HELP)],
) -> dict[str, Any]:
    """The model versions, endpoints, keys, applications and datasets `target` reaches."""

    def query() -> dict[str, Any]:
        radius = blast_radius(state.store, target)
        return masked_radius(radius, redactor_for(state.store, state.settings))

    try:
        return await asyncio.to_thread(query)
    except TargetError as exc:
        if exc.usage:
            raise HTTPException(
                status_code=422,
                detail=[{"loc": ["query", "target"], "msg": str(exc), "type": "value_error"}],
            ) from None
        raise HTTPException(status_code=404, detail=str(exc)) from None
