"""Alert intake over HTTP: `POST /api/v1/alerts` (generic) and `/api/v1/alerts/{source}`.

Order of checks: body size (413), credentials (401/403, nothing stored: unauthenticated
traffic must not be able to fill the database), query context (422), JSON (400), format
(422). Every request that passed authentication and was still refused is kept in
`dead_letters`, with its query string. A store outage is a 503 with Retry-After: nothing
was kept, the sender retries.

A source whose format is a stream of JSON lines (garak) takes a whole file: each line is
read in order, and the answer says what became of each (see `StreamAccepted`).

A request with an `Idempotency-Key` header (scoped to its credential and endpoint), or
whose alert carries the source's own `event_id` (scoped to the source), is processed once:
a retry gets the first answer, status and body, and stores nothing (see
`smokejumper.intake.idempotency`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from smokejumper.api.outage import RETRY_AFTER_SECONDS
from smokejumper.api.state import AppState, app_state
from smokejumper.domain import source_context as intake_context
from smokejumper.domain.alerts import Alert
from smokejumper.domain.source_context import ContextError, SourceContext
from smokejumper.intake import idempotency, json_body
from smokejumper.intake.auth import AuthError, Caller
from smokejumper.intake.dead_letters import record_dead_letter
from smokejumper.intake.errors import field_errors
from smokejumper.intake.rate_limits import retry_after
from smokejumper.intake.streams import NoFinding, StreamReader, StreamState, is_stream, lines_of
from smokejumper.settings.intake import SOURCE_NAME
from smokejumper.store.outage import STORE_OUTAGE

router = APIRouter(prefix="/api/v1", tags=["alerts"])
log = logging.getLogger(__name__)

GENERIC_FORMAT = "generic"
# Where a dead letter keeps the query string and, for one line of a stream, its number
# (not HTTP header names, so they cannot collide with a sent header).
QUERY_KEY = ":query"
LINE_KEY = ":line"
# A stream body with more unusable lines than this is refused whole (one dead letter), so a
# body of garbage cannot turn into a dead letter per line.
MAX_REFUSED_LINES = 100
# How many line errors a refusal of a whole stream body lists.
MAX_LISTED_ERRORS = 50
IDEMPOTENCY_HEADER = "Idempotency-Key"
# How long a twin waits for the first request with its key to answer before it gets a 409.
TWIN_WAIT_SECONDS = 10.0
TWIN_POLL_SECONDS = 0.05


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


class AcceptedLine(AlertAccepted):
    line: int


class RefusedLine(BaseModel):
    line: int
    error: str
    fields: list[FieldError]
    dead_letter_id: str


class StreamAccepted(BaseModel):
    """What became of each line of a stream body (a garak report.jsonl or hitlog.jsonl)."""

    lines: int
    alerts: list[AcceptedLine]
    acknowledged: dict[str, int]
    refused: list[RefusedLine]


class Rejection(Exception):
    def __init__(
        self,
        status: int,
        reason: str,
        errors: list[dict[str, Any]],
        keep: bool = True,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.errors = errors
        self.keep = keep
        self.retry_after = retry_after


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": AlertRejected, "description": "Body is not JSON"},
    401: {"model": AlertRejected, "description": "Missing, wrong, stale or replayed credential"},
    403: {"model": AlertRejected, "description": "Credential of another source"},
    408: {"model": AlertRejected, "description": "Body not sent within api.body_timeout_seconds"},
    413: {"model": AlertRejected, "description": "Body larger than api.max_body_bytes"},
    422: {"model": AlertRejected, "description": "Unknown source or invalid payload"},
    429: {"model": AlertRejected, "description": "Source over its rate limit: retry after"},
    503: {"model": AlertRejected, "description": "Store unavailable: nothing kept, retry"},
}


async def _read_limited(request: Request, limit: int, within: float) -> bytes:
    """The body; a Rejection(413) once it exceeds `limit` bytes (without reading it all),
    408 when it has not all arrived `within` seconds."""
    try:
        async with asyncio.timeout(within):
            return await _read_upto(request, limit)
    except TimeoutError:
        raise Rejection(
            408,
            f"the body did not arrive within {within:g} s",
            [{"field": "(body)", "message": "sent too slowly", "type": "timeout"}],
            keep=False,
        ) from None


async def _read_upto(request: Request, limit: int) -> bytes:
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
        return json_body.loads(body)
    except json_body.JsonRefused as exc:
        raise Rejection(exc.status, exc.reason, exc.errors) from None


def _authenticate(state: AppState, request: Request, body: bytes) -> Caller:
    try:
        return state.authenticator.authenticate(request.headers, body)
    except AuthError as exc:
        client = request.client.host if request.client else "?"
        log.warning("alert refused from %s: %s", client, exc.message)
        raise Rejection(exc.status, exc.message, [], keep=False) from None


def _authenticate_head(state: AppState, request: Request) -> Caller | None:
    try:
        return state.authenticator.authenticate_head(request.headers)
    except AuthError as exc:
        client = request.client.host if request.client else "?"
        log.warning("alert refused from %s: %s", client, exc.message)
        raise Rejection(exc.status, exc.message, [], keep=False) from None


def _admit(state: AppState, caller: Caller, path_source: str | None) -> None:
    """The caller may send for this source, and the source is within its rate limit."""
    if path_source is not None:
        _authorize(state, caller, path_source)
    # Limited per source credential; the operator is not (it replays and backfills).
    wait = state.rate_limits.take(caller.source)
    if wait is not None:
        raise Rejection(
            429,
            f"source {caller.source!r} is over its rate limit; retry after {retry_after(wait)} s",
            [],
            keep=False,
            retry_after=retry_after(wait),
        )


def _authorize(state: AppState, caller: Caller, source: str) -> None:
    try:
        state.authenticator.authorize(caller, source)
    except AuthError as exc:
        raise Rejection(exc.status, exc.message, [], keep=False) from None


async def _respond_rejected(
    state: AppState, request: Request, rejection: Rejection, body: bytes, source: str | None
) -> JSONResponse:
    # A store outage here goes on to the app's 503 (smokejumper.api.outage), as everywhere.
    dead_letter_id = (
        await _keep(state, request, rejection, body, source) if rejection.keep else None
    )
    content = AlertRejected(
        error=rejection.reason,
        fields=[FieldError(**error) for error in rejection.errors],
        dead_letter_id=dead_letter_id,
    )
    headers = {"WWW-Authenticate": "Bearer"} if rejection.status == 401 else None
    if rejection.retry_after is not None:
        headers = {"Retry-After": rejection.retry_after}
    return JSONResponse(content.model_dump(), status_code=rejection.status, headers=headers)


async def _keep(
    state: AppState,
    request: Request,
    rejection: Rejection,
    body: bytes,
    source: str | None,
    line: int | None = None,
) -> str:
    headers = dict(request.headers)
    if request.url.query:
        headers[QUERY_KEY] = request.url.query
    if line is not None:
        headers[LINE_KEY] = str(line)
    return await asyncio.to_thread(
        record_dead_letter,
        state.store,
        endpoint=request.url.path[:200],
        source=source[:200] if source else None,
        reason=rejection.reason,
        errors=rejection.errors,
        raw_body=body,
        headers=headers,
        remote_addr=request.client.host if request.client else None,
    )


async def _accept(state: AppState, alert: Alert, body: bytes) -> JSONResponse:
    accepted = await _store(state, alert, body)
    return JSONResponse(accepted.model_dump(), status_code=202)


async def _store(state: AppState, alert: Alert, body: bytes) -> AlertAccepted:
    result = await state.intake.accept(alert, body.decode("utf-8"))
    return AlertAccepted(
        alert_id=result.alert_id,
        incident_id=result.incident_id,
        workflow_id=result.workflow_id,
        deduplicated=result.deduplicated,
        playbook=result.playbook,
    )


def _validate_generic(body: bytes) -> Alert:
    # Parse and validate in one pass (pydantic's own JSON parser): the hot path of a storm.
    try:
        alert = Alert.model_validate_json(body)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            _parse_json(body)  # raises the 400 with the JSON parser's message
            raise Rejection(400, "body is not valid JSON", field_errors(exc)) from None
        raise Rejection(422, "alert failed validation", field_errors(exc)) from None
    if _NUL_ESCAPE in body:
        _parse_json(body)  # pydantic takes NUL in text, which the store cannot keep
    return alert


# A NUL can only reach a valid alert as this escape (a raw NUL byte is no valid JSON).
_NUL_ESCAPE = b"\\u0000"


def _generic_body_schema() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": Alert.model_json_schema()}},
        },
        "parameters": _QUERY_PARAMETERS,
    }


def _query_parameter(name: str, description: str, many: bool = False) -> dict[str, Any]:
    text = {"type": "string", "minLength": 1, "maxLength": intake_context.NAME_MAX}
    schema = {"type": "array", "items": text} if many else text
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


# Documented for clients; `label.<name>` (any name) is read too. See docs/intake.md.
_QUERY_PARAMETERS = [
    *(
        _query_parameter(name, f"Context: fills `{name}` when the payload leaves it unset.")
        for name in intake_context.SINGLE_NAMES
    ),
    _query_parameter("principal", "Another name for `user`."),
    _query_parameter("document", "Retrieval document ids (repeatable).", many=True),
]


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
    # A stream format's file (garak) is answered line by line.
    response_model=AlertAccepted | StreamAccepted,
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        "parameters": _QUERY_PARAMETERS,
    },
)
async def post_source_alert(
    request: Request,
    source: Annotated[str, Path(max_length=63)],
) -> Any:
    """A source's native payload, normalized by the format configured for that source; for
    a stream format (garak), a whole JSON-lines file."""
    return await _receive(app_state(request), request, source)


async def _receive(state: AppState, request: Request, path_source: str | None) -> JSONResponse:
    body = b""
    try:
        # Who sends is known before the body is read: an unauthenticated client costs a
        # header check, never up to api.max_body_bytes of memory.
        early = _authenticate_head(state, request)
        if early is not None:
            _admit(state, early, path_source)
        body = await _read_limited(
            request, state.settings.api.max_body_bytes, state.settings.api.body_timeout_seconds
        )
        caller = early or _authenticate(state, request, body)
        if early is None:
            _admit(state, caller, path_source)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None and not idempotency.valid_key(key):
            raise Rejection(
                400,
                f"{IDEMPOTENCY_HEADER} header is invalid",
                [
                    {
                        "field": IDEMPOTENCY_HEADER,
                        "message": f"1 to {idempotency.MAX_KEY_LENGTH} visible ASCII characters",
                        "type": "value_error",
                    }
                ],
            )
    except Rejection as rejection:
        source = path_source or _claimed_source(body)
        return await _respond_rejected(state, request, rejection, body, source)
    if key is None:
        return await _process(state, request, path_source, body, caller, by_event_id=True)
    # A credential's keys are its own: another sender's key cannot fetch its answers.
    scope = f"key:{caller.actor}:{path_source or GENERIC_FORMAT}"
    return await _idempotent(
        state,
        request,
        scope,
        key,
        body,
        path_source,
        lambda: _process(state, request, path_source, body, caller, by_event_id=False),
    )


async def _process(
    state: AppState,
    request: Request,
    path_source: str | None,
    body: bytes,
    caller: Caller,
    *,
    by_event_id: bool,
) -> JSONResponse:
    try:
        query = query_context(_query_string(request))
        if path_source is not None:
            normalizer = _normalizer_for(state, path_source)
            if is_stream(normalizer):
                return await _receive_stream(state, request, normalizer, body, path_source, query)
        alert = _parse(state, body, path_source, caller, query)
    except Rejection as rejection:
        source = path_source or _claimed_source(body)
        return await _respond_rejected(state, request, rejection, body, source)
    if by_event_id and alert.event_id is not None:
        # The source's own id of the event: a resend of it is the same event, whatever
        # the sender's serialisation, so its body is not compared.
        return await _idempotent(
            state,
            request,
            f"event:{alert.source}",
            alert.event_id,
            body,
            path_source,
            lambda: _accept(state, alert, body),
            same_body=False,
        )
    return await _accept(state, alert, body)


async def _idempotent(
    state: AppState,
    request: Request,
    scope: str,
    key: str,
    body: bytes,
    path_source: str | None,
    handle: Callable[[], Awaitable[JSONResponse]],
    *,
    same_body: bool = True,
) -> JSONResponse:
    """`handle` once per (scope, key); a retry or a concurrent twin gets its answer."""
    digest = hashlib.sha256(body).hexdigest()
    deadline = time.monotonic() + TWIN_WAIT_SECONDS
    while True:
        # A store outage is the app's 503 (smokejumper.api.outage): nothing was claimed.
        outcome = await asyncio.to_thread(
            idempotency.claim, state.store, scope, key, digest, same_body=same_body
        )
        if isinstance(outcome, idempotency.Answered):
            return JSONResponse(
                json.loads(outcome.response),
                status_code=outcome.status,
                headers={"Idempotent-Replayed": "true"},
            )
        if isinstance(outcome, idempotency.OtherBody):
            rejection = Rejection(
                422,
                f"{IDEMPOTENCY_HEADER} was already used with another body",
                [
                    {
                        "field": IDEMPOTENCY_HEADER,
                        "message": "a retry must send the same body; a new alert needs a new key",
                        "type": "idempotency_key_reused",
                    }
                ],
            )
            source = path_source or _claimed_source(body)
            return await _respond_rejected(state, request, rejection, body, source)
        if isinstance(outcome, idempotency.Claimed):
            break
        if time.monotonic() > deadline:
            # Nothing is lost: the first request is storing the alert; retry for its answer.
            return JSONResponse(
                {
                    "error": f"a request with this {IDEMPOTENCY_HEADER} is still being "
                    "processed; retry later",
                    "fields": [],
                },
                status_code=409,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        await asyncio.sleep(TWIN_POLL_SECONDS)
    try:
        response = await handle()
    except BaseException:
        # A store outage among them: nothing was stored, so the retry must be processed,
        # not answered.
        await _release(state, outcome.row_id)
        raise
    try:
        await asyncio.to_thread(
            idempotency.finish,
            state.store,
            outcome.row_id,
            response.status_code,
            bytes(response.body).decode("utf-8"),
        )
    except STORE_OUTAGE as exc:
        # Stored, but the answer is not kept: a retry after the stale-claim time is new.
        log.error("idempotency answer not kept for %s: %s", scope, type(exc).__name__)
    return response


async def _release(state: AppState, row_id: int) -> None:
    try:
        await asyncio.to_thread(idempotency.release, state.store, row_id)
    except STORE_OUTAGE as exc:
        log.error("idempotency claim %s not released: %s", row_id, type(exc).__name__)


def _query_string(request: Request) -> str:
    # Most alerts come without one: then the whole URL need not be built to say so.
    return request.url.query if request.scope.get("query_string") else ""


def query_context(query: str) -> SourceContext:
    """The context a request's query string gives, or a Rejection(422) naming each bad one."""
    if not query:
        return SourceContext()
    try:
        return intake_context.from_query(parse_qsl(query, keep_blank_values=True))
    except ContextError as exc:
        raise Rejection(422, "query parameters failed validation", list(exc.errors)) from None


def with_context(state: AppState, alert: Alert, query: SourceContext) -> Alert:
    """The payload's own context first, then the query's, then the source's defaults."""
    defaults = state.settings.source_context(alert.source)
    return intake_context.apply(alert, query.over(defaults))


def admit_alert(
    state: AppState, body: bytes, path_source: str | None, caller: Caller, query: str = ""
) -> Alert:
    """Body → validated, authorised Alert, or a Rejection; shared with dead-letter replay.

    `query` is the query string the body came with. A stream format's body must hold
    exactly one finding here: a whole file is sent to its intake endpoint instead.
    """
    return _parse(state, body, path_source, caller, query_context(query))


def _parse(
    state: AppState, body: bytes, path_source: str | None, caller: Caller, query: SourceContext
) -> Alert:
    if path_source is None:
        alert = _validate_generic(body)
        _authorize(state, caller, alert.source)
        return with_context(state, alert, query)
    normalizer = _normalizer_for(state, path_source)
    if is_stream(normalizer):
        alert = _one_finding(normalizer, body)
    else:
        alert = _normalize(normalizer, _parse_json(body))
    return with_context(state, alert.model_copy(update={"source": path_source}), query)


def _one_finding(reader: StreamReader, body: bytes) -> Alert:
    read = _read_stream(reader, body)
    if read.refused:
        line, _, rejection = read.refused[0]
        raise Rejection(rejection.status, rejection.reason, _on_line(line, rejection.errors))
    if len(read.alerts) != 1:
        raise Rejection(
            422,
            f"the body holds {len(read.alerts)} findings, not one",
            [
                {
                    "field": "(body)",
                    "message": "send a whole file to its intake endpoint instead",
                    "type": "not_one_finding",
                }
            ],
        )
    return read.alerts[0][2]


class _StreamRead:
    def __init__(self) -> None:
        self.lines = 0
        self.alerts: list[tuple[int, bytes, Alert]] = []
        self.acknowledged: dict[str, int] = {}
        self.refused: list[tuple[int, bytes, Rejection]] = []


def _read_stream(reader: StreamReader, body: bytes) -> _StreamRead:
    """Every line of the body through the format, in order, with one state."""
    read = _StreamRead()
    lines = lines_of(body)
    if len(lines) > 1 and _is_one_object(body):
        lines = [(1, body)]  # one pretty-printed event
    read.lines = len(lines)
    if not lines:
        raise Rejection(
            400,
            "body is empty",
            [{"field": "(body)", "message": "send one JSON object per line", "type": "empty"}],
        )
    state: StreamState = {}
    for number, line in lines:
        try:
            outcome = reader.read(_parse_json(line), state)
        except Rejection as refusal:
            read.refused.append((number, line, refusal))
            continue
        except ValidationError as exc:
            invalid = Rejection(422, "payload failed validation", field_errors(exc))
            read.refused.append((number, line, invalid))
            continue
        except ValueError as exc:
            read.refused.append((number, line, _format_rejection(exc)))
            continue
        if isinstance(outcome, NoFinding):
            read.acknowledged[outcome.entry_type] = read.acknowledged.get(outcome.entry_type, 0) + 1
        else:
            read.alerts.append((number, line, outcome))
    return read


def _is_one_object(body: bytes) -> bool:
    # Only how the body is framed: the object itself is then read strictly.
    try:
        return isinstance(json.loads(body), dict)
    except (ValueError, RecursionError):
        return False


def _on_line(line: int, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    located = []
    for error in errors:
        field = str(error.get("field", "(body)"))
        where = f"line {line}" if field == "(body)" else f"line {line}: {field}"
        located.append({**error, "field": where})
    return located


async def _receive_stream(
    state: AppState,
    request: Request,
    reader: StreamReader,
    body: bytes,
    source: str,
    query: SourceContext,
) -> JSONResponse:
    """A whole JSONL file: findings stored, the other lines acknowledged, bad lines kept.

    Nothing usable: the body is refused whole (400/422), one dead letter. Some usable: each
    unusable line is its own dead letter (replayable alone) and listed in the 202 answer,
    unless there are more than MAX_REFUSED_LINES of them, when the body is refused whole.
    """
    read = _read_stream(reader, body)
    usable = bool(read.alerts or read.acknowledged)
    if not usable or len(read.refused) > MAX_REFUSED_LINES:
        raise _whole_body_refused(read)
    # A store outage midway is a 503: what was stored stays, a retry joins the same incidents.
    refused = []
    for number, line, rejection in read.refused:
        letter = await _keep(state, request, rejection, line, source, line=number)
        refused.append(
            RefusedLine(
                line=number,
                error=rejection.reason,
                fields=[FieldError(**e) for e in _on_line(number, rejection.errors)],
                dead_letter_id=letter,
            )
        )
    alerts = []
    for number, line, alert in read.alerts:
        alert = with_context(state, alert.model_copy(update={"source": source}), query)
        accepted = await _store(state, alert, line)
        alerts.append(AcceptedLine(**accepted.model_dump(), line=number))
    answer = StreamAccepted(
        lines=read.lines, alerts=alerts, acknowledged=read.acknowledged, refused=refused
    )
    return JSONResponse(answer.model_dump(), status_code=202)


def _whole_body_refused(read: _StreamRead) -> Rejection:
    if len(read.refused) == 1:
        line, _, rejection = read.refused[0]
        return Rejection(rejection.status, rejection.reason, _on_line(line, rejection.errors))
    errors = [
        error
        for line, _, rejection in read.refused[:MAX_LISTED_ERRORS]
        for error in _on_line(line, rejection.errors)
    ]
    if len(read.refused) > MAX_LISTED_ERRORS:
        errors.append(
            {
                "field": "(body)",
                "message": f"{len(read.refused) - MAX_LISTED_ERRORS} more unusable lines",
                "type": "more",
            }
        )
    usable = bool(read.alerts or read.acknowledged)
    all_bad_json = not usable and all(rejection.status == 400 for *_, rejection in read.refused)
    if usable:
        reason = f"{len(read.refused)} of {read.lines} lines are unusable (at most "
        reason += f"{MAX_REFUSED_LINES} may be)"
    else:
        reason = f"none of the {read.lines} lines is usable"
    return Rejection(400 if all_bad_json else 422, reason, errors)


def _claimed_source(body: bytes) -> str | None:
    # Lenient on purpose: a refused body still files its dead letter under its source.
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
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
        raise _format_rejection(exc) from None
    return alert


def _format_rejection(exc: ValueError) -> Rejection:
    errors = getattr(exc, "errors", None)
    if not isinstance(errors, list):
        errors = [{"field": "(body)", "message": str(exc), "type": "source_format"}]
    return Rejection(422, "payload is not in the source's format", errors)
