"""`POST /api/v1/alerts`: the generic alert format."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from smokejumper.api.state import AppState, app_state
from smokejumper.domain.alerts import Alert
from smokejumper.intake.dead_letters import record_dead_letter
from smokejumper.intake.errors import field_errors

router = APIRouter(prefix="/api/v1", tags=["alerts"])


class AlertAccepted(BaseModel):
    alert_id: str
    incident_id: str
    workflow_id: str
    deduplicated: bool
    playbook: str


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class AlertRejected(BaseModel):
    error: str
    fields: list[FieldError]
    dead_letter_id: str


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it exceeds `limit` bytes (without reading it all)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _reject(
    state: AppState,
    request: Request,
    *,
    status: int,
    reason: str,
    errors: list[dict[str, Any]],
    body: bytes,
    source: str | None,
) -> JSONResponse:
    dead_letter_id = await asyncio.to_thread(
        record_dead_letter,
        state.store,
        source=source,
        reason=reason,
        errors=errors,
        raw_body=body,
        headers=request.headers,
        remote_addr=request.client.host if request.client else None,
    )
    content = AlertRejected(
        error=reason,
        fields=[FieldError(**error) for error in errors],
        dead_letter_id=dead_letter_id,
    )
    return JSONResponse(content.model_dump(), status_code=status)


@router.post(
    "/alerts",
    status_code=202,
    response_model=AlertAccepted,
    responses={
        400: {"model": AlertRejected, "description": "Body is not JSON"},
        413: {"description": "Body larger than api.max_body_bytes"},
        422: {"model": AlertRejected, "description": "Alert failed validation"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": Alert.model_json_schema()}},
        }
    },
)
async def post_alert(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Any:
    limit = state.settings.api.max_body_bytes
    body = await _read_limited(request, limit)
    if body is None:
        return JSONResponse(
            {"error": f"body larger than {limit} bytes", "fields": []}, status_code=413
        )
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return await _reject(
            state,
            request,
            status=400,
            reason="body is not valid JSON",
            errors=[{"field": "(body)", "message": str(exc), "type": "json_invalid"}],
            body=body,
            source=None,
        )
    try:
        alert = Alert.model_validate(payload)
    except ValidationError as exc:
        source = payload.get("source") if isinstance(payload, dict) else None
        return await _reject(
            state,
            request,
            status=422,
            reason="alert failed validation",
            errors=field_errors(exc),
            body=body,
            source=source[:200] if isinstance(source, str) else None,
        )
    result = await state.intake.accept(alert, body.decode("utf-8"))
    return JSONResponse(
        AlertAccepted(
            alert_id=result.alert_id,
            incident_id=result.incident_id,
            workflow_id=result.workflow_id,
            deduplicated=result.deduplicated,
            playbook=result.playbook,
        ).model_dump(),
        status_code=202,
    )
