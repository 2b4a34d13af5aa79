"""Alert intake over HTTP: `POST /api/v1/alerts` (generic) and `/api/v1/alerts/{source}`.

Order of checks: body size (413), credentials (401/403, nothing stored: unauthenticated
traffic must not be able to fill the database), JSON (400), format (422). Every request
that passed authentication and was still refused is kept in `dead_letters`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from smokejumper.api.state import AppState, app_state
from smokejumper.config import SOURCE_NAME
from smokejumper.domain.alerts import Alert
from smokejumper.intake.auth import AuthError, Caller
from smokejumper.intake.dead_letters import record_dead_letter
from smokejumper.intake.errors import field_errors

router = APIRouter(prefix="/api/v1", tags=["alerts"])
log = logging.getLogger(__name__)

GENERIC_FORMAT = "generic"
RETRY_AFTER_SECONDS = 5
# The database refused or dropped the connection, or every pooled connection stayed busy:
# nothing was stored, so the sender must retry rather than be told an id that does not exist.
STORE_UNAVAILABLE = (DBAPIError, PoolTimeout)


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
    dead_letter_id: str | None = None


class Rejection(Exception):
    def __init__(
        self, status: int, reason: str, errors: list[dict[str, Any]], keep: bool = True
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.errors = errors
        self.keep = keep


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": AlertRejected, "description": "Body is not JSON"},
    401: {"model": AlertRejected, "description": "Missing, wrong, stale or replayed credential"},
    403: {"model": AlertRejected, "description": "Credential of another source"},
    413: {"model": AlertRejected, "description": "Body larger than api.max_body_bytes"},
    422: {"model": AlertRejected, "description": "Unknown source or invalid payload"},
    503: {"model": AlertRejected, "description": "Store unavailable: nothing kept, retry"},
}


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body; a Rejection(413) once it exceeds `limit` bytes (without reading it all)."""
    too_large = Rejection(
        413,
        f"body larger than {limit} bytes",
        [{"field": "(body)", "message": f"at most {limit} bytes", "type": "too_large"}],
        keep=False,
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Rejection(
            400,
            "body is not valid JSON",
            [{"field": "(body)", "message": str(exc), "type": "json_invalid"}],
        ) from None


def _authenticate(state: AppState, request: Request, body: bytes) -> Caller:
    try:
        return state.authenticator.authenticate(request.headers, body)
    except AuthError as exc:
        client = request.client.host if request.client else "?"
        log.warning("alert refused from %s: %s", client, exc.message)
        raise Rejection(exc.status, exc.message, [], keep=False) from None


def _authorize(state: AppState, caller: Caller, source: str) -> None:
    try:
        state.authenticator.authorize(caller, source)
    except AuthError as exc:
        raise Rejection(exc.status, exc.message, [], keep=False) from None


async def _respond_rejected(
    state: AppState, request: Request, rejection: Rejection, body: bytes, source: str | None
) -> JSONResponse:
    dead_letter_id = None
    if rejection.keep:
        try:
            dead_letter_id = await _keep(state, request, rejection, body, source)
        except STORE_UNAVAILABLE as exc:
            return store_unavailable(exc)
    content = AlertRejected(
        error=rejection.reason,
        fields=[FieldError(**error) for error in rejection.errors],
        dead_letter_id=dead_letter_id,
    )
    headers = {"WWW-Authenticate": "Bearer"} if rejection.status == 401 else None
    return JSONResponse(content.model_dump(), status_code=rejection.status, headers=headers)


def store_unavailable(exc: Exception) -> JSONResponse:
    """Nothing was stored: tell the sender to retry instead of losing the alert."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    log.error("store unavailable, alert refused with 503: %s", type(cause).__name__)
    return JSONResponse(
        {"error": "the incident store is unavailable; retry later", "fields": []},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _keep(
    state: AppState, request: Request, rejection: Rejection, body: bytes, source: str | None
) -> str:
    return await asyncio.to_thread(
        record_dead_letter,
        state.store,
        endpoint=request.url.path[:200],
        source=source[:200] if source else None,
        reason=rejection.reason,
        errors=rejection.errors,
        raw_body=body,
        headers=request.headers,
        remote_addr=request.client.host if request.client else None,
    )


async def _accept(state: AppState, alert: Alert, body: bytes) -> JSONResponse:
    try:
        result = await state.intake.accept(alert, body.decode("utf-8"))
    except STORE_UNAVAILABLE as exc:
        return store_unavailable(exc)
    accepted = AlertAccepted(
        alert_id=result.alert_id,
        incident_id=result.incident_id,
        workflow_id=result.workflow_id,
        deduplicated=result.deduplicated,
        playbook=result.playbook,
    )
    return JSONResponse(accepted.model_dump(), status_code=202)


def _validate_generic(body: bytes) -> Alert:
    # Parse and validate in one pass (pydantic's own JSON parser): the hot path of a storm.
    try:
        return Alert.model_validate_json(body)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            _parse_json(body)  # raises the 400 with the JSON parser's message
            raise Rejection(400, "body is not valid JSON", field_errors(exc)) from None
        raise Rejection(422, "alert failed validation", field_errors(exc)) from None


def _generic_body_schema() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": Alert.model_json_schema()}},
        }
    }


@router.post(
    "/alerts",
    status_code=202,
    response_model=AlertAccepted,
    responses=_RESPONSES,
    openapi_extra=_generic_body_schema(),
)
async def post_alert(request: Request) -> Any:
    """A generic smokejumper alert; a source credential may only send its own `source`."""
    # app_state() directly rather than Depends: dependency solving costs a storm dearly.
    return await _receive(app_state(request), request, None)


@router.post(
    "/alerts/{source}",
    status_code=202,
    response_model=AlertAccepted,
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def post_source_alert(
    request: Request,
    source: Annotated[str, Path(max_length=63)],
) -> Any:
    """A source's native payload, normalized by the format configured for that source."""
    return await _receive(app_state(request), request, source)


async def _receive(state: AppState, request: Request, path_source: str | None) -> JSONResponse:
    body = b""
    try:
        body = await _read_limited(request, state.settings.api.max_body_bytes)
        caller = _authenticate(state, request, body)
        if path_source is not None:
            _authorize(state, caller, path_source)
        alert = parse_alert(state, body, path_source, caller)
    except Rejection as rejection:
        source = path_source or _claimed_source(body)
        return await _respond_rejected(state, request, rejection, body, source)
    return await _accept(state, alert, body)


def parse_alert(state: AppState, body: bytes, path_source: str | None, caller: Caller) -> Alert:
    """Body → validated, authorised Alert, or a Rejection; shared with dead-letter replay."""
    if path_source is None:
        alert = _validate_generic(body)
        _authorize(state, caller, alert.source)
        return alert
    normalizer = _normalizer_for(state, path_source)
    alert = _normalize(normalizer, _parse_json(body))
    return alert.model_copy(update={"source": path_source})


def _claimed_source(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    source = payload.get("source") if isinstance(payload, dict) else None
    return source if isinstance(source, str) else None


def _normalizer_for(state: AppState, source: str) -> Any:
    configured = state.settings.sources.get(source)
    name = (configured.format if configured else None) or source
    normalizer = state.normalizers.get(name)
    if not re.match(SOURCE_NAME, source) or normalizer is None:
        known = ", ".join(sorted(set(state.settings.sources) | set(state.normalizers)))
        raise Rejection(
            422,
            f"unknown source {source!r}",
            [{"field": "source", "message": f"known sources: {known}", "type": "unknown_source"}],
        )
    return normalizer


def _normalize(normalizer: Any, payload: Any) -> Alert:
    try:
        alert: Alert = normalizer.normalize(payload)
    except ValidationError as exc:
        raise Rejection(422, "payload failed validation", field_errors(exc)) from None
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        if not isinstance(errors, list):
            errors = [{"field": "(body)", "message": str(exc), "type": "source_format"}]
        raise Rejection(422, "payload is not in the source's format", errors) from None
    return alert
