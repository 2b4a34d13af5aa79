"""Dead letters: list what intake refused, and replay it once the cause is fixed."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select, update

from smokejumper.api.alerts import (
    QUERY_KEY,
    AlertRejected,
    FieldError,
    Rejection,
    admit_alert,
)
from smokejumper.api.auth import ResponderAccess, ViewerAccess
from smokejumper.api.state import AppState, app_state
from smokejumper.intake.auth import Caller
from smokejumper.security.users import Principal
from smokejumper.store import audit
from smokejumper.store.tables import DeadLetter

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["dead letters"])

_SOURCE_PATH = "/api/v1/alerts/"
_POLLER_PREFIX = "poller:"


class DeadLetterSummary(BaseModel):
    id: str
    received_at: datetime
    endpoint: str | None
    source: str | None
    reason: str
    errors: list[dict[str, Any]]
    size: int
    replayed_at: datetime | None
    replay_alert_id: str | None


class DeadLetterDetail(DeadLetterSummary):
    raw_body: str
    headers: dict[str, Any]
    remote_addr: str | None


class DeadLetterPage(BaseModel):
    items: list[DeadLetterSummary]
    total: int


class ReplayBody(BaseModel):
    body: str | None = Field(
        default=None, description="A corrected payload to send instead of the stored one."
    )


class ReplayAccepted(BaseModel):
    dead_letter_id: str
    alert_id: str
    incident_id: str
    workflow_id: str
    deduplicated: bool


def _format_source(state: AppState, endpoint: str | None) -> str | None:
    """The source whose format the body was in: from the intake path, or the poller's."""
    if endpoint is None:
        return None
    if endpoint.startswith(_SOURCE_PATH):
        return endpoint.removeprefix(_SOURCE_PATH)
    if endpoint.startswith(_POLLER_PREFIX):
        name = endpoint.removeprefix(_POLLER_PREFIX)
        for poller in state.settings.pollers:
            if poller.name == name:
                return poller.source
        raise HTTPException(
            status_code=409, detail=f"poller {name!r} is no longer configured; cannot replay"
        )
    return None


def _summary(row: DeadLetter) -> dict[str, Any]:
    return {
        "id": row.id,
        "received_at": row.received_at,
        "endpoint": row.endpoint,
        "source": row.source,
        "reason": row.reason,
        "errors": row.errors,
        "size": len(row.raw_body.encode("utf-8")),
        "replayed_at": row.replayed_at,
        "replay_alert_id": row.replay_alert_id,
    }


@router.get("/dead-letters", response_model=DeadLetterPage)
async def list_dead_letters(
    state: Annotated[AppState, Depends(app_state)],
    _caller: ViewerAccess,
    source: Annotated[str | None, Query(max_length=200)] = None,
    pending: Annotated[bool, Query(description="Only those not yet replayed.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> DeadLetterPage:
    def query() -> DeadLetterPage:
        statement = select(DeadLetter)
        if source is not None:
            statement = statement.where(DeadLetter.source == source)
        if pending:
            statement = statement.where(DeadLetter.replayed_at.is_(None))
        with state.store.session() as session:
            total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
            rows = session.scalars(
                statement.order_by(DeadLetter.received_at.desc()).limit(limit).offset(offset)
            ).all()
            return DeadLetterPage(
                items=[DeadLetterSummary(**_summary(row)) for row in rows], total=total
            )

    return await asyncio.to_thread(query)


def _load(state: AppState, dead_letter_id: str) -> DeadLetter:
    with state.store.session() as session:
        row = session.get(DeadLetter, dead_letter_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"no dead letter {dead_letter_id!r}")
    return row


@router.get(
    "/dead-letters/{dead_letter_id}",
    response_model=DeadLetterDetail,
    responses={404: {"description": "No such dead letter"}},
)
async def get_dead_letter(
    dead_letter_id: Annotated[str, Path(max_length=36)],
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
) -> DeadLetterDetail:
    """The rejected alert as received (responders and admins only); every read is in the
    audit log as `dead_letter.raw_viewed`."""
    row = await asyncio.to_thread(_load, state, dead_letter_id)

    def record() -> None:
        with state.store.transaction() as session:
            audit.append(
                session,
                actor=caller.name,
                action="dead_letter.raw_viewed",
                subject=dead_letter_id,
                data={"source": row.source, "via": caller.via},
            )

    await asyncio.to_thread(record)
    return DeadLetterDetail(
        **_summary(row), raw_body=row.raw_body, headers=row.headers, remote_addr=row.remote_addr
    )


@router.post(
    "/dead-letters/{dead_letter_id}/replay",
    status_code=202,
    response_model=ReplayAccepted,
    responses={
        404: {"description": "No such dead letter"},
        409: {"description": "Already replayed"},
        422: {"model": AlertRejected},
        503: {"model": AlertRejected, "description": "Store unavailable: retry"},
    },
)
async def replay_dead_letter(
    dead_letter_id: Annotated[str, Path(max_length=36)],
    replay: ReplayBody,
    state: Annotated[AppState, Depends(app_state)],
    caller: ResponderAccess,
) -> Any:
    """Send the stored (or a corrected) body through intake again, once, under the dead
    letter's own source; every attempt is in the audit log as `dead_letter.replay`."""
    # A store outage is a 503 (smokejumper.api.outage). Replaying again is safe then: the
    # claim was released and the alert joins its incident by fingerprint.
    return await _replay(state, dead_letter_id, replay, caller)


def _claim(state: AppState, dead_letter_id: str) -> DeadLetter:
    """Mark the dead letter as being replayed, or refuse: one conditional UPDATE, so of
    concurrent replays exactly one goes on (on SQLite and PostgreSQL alike)."""
    with state.store.transaction() as session:
        row = session.get(DeadLetter, dead_letter_id)
        if row is None:
            raise HTTPException(status_code=404, detail=f"no dead letter {dead_letter_id!r}")
        claimed = session.execute(
            update(DeadLetter)
            .where(DeadLetter.id == dead_letter_id, DeadLetter.replayed_at.is_(None))
            .values(replayed_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            session.refresh(row)
            detail = (
                f"dead letter {dead_letter_id} was replayed as alert {row.replay_alert_id}"
                if row.replay_alert_id is not None
                else f"dead letter {dead_letter_id} is being replayed"
            )
            raise HTTPException(status_code=409, detail=detail)
        session.refresh(row)
        return row


def _release(state: AppState, dead_letter_id: str) -> None:
    with state.store.transaction() as session:
        session.execute(
            update(DeadLetter)
            .where(DeadLetter.id == dead_letter_id, DeadLetter.replay_alert_id.is_(None))
            .values(replayed_at=None)
        )


def _audit(state: AppState, actor: str, dead_letter_id: str, data: dict[str, Any]) -> None:
    with state.store.transaction() as session:
        audit.append(
            session, actor=actor, action="dead_letter.replay", subject=dead_letter_id, data=data
        )


async def _failed(
    state: AppState,
    caller: Principal,
    dead_letter_id: str,
    record: dict[str, Any],
    exc: BaseException,
) -> None:
    """A replay that broke off (the store or intake failed) is released for another try,
    and the attempt is still on the record."""
    await asyncio.to_thread(_release, state, dead_letter_id)
    record.update(result="failed", error=type(exc).__name__)
    try:
        await asyncio.to_thread(_audit, state, caller.name, dead_letter_id, record)
    except Exception as audit_exc:
        log.warning("dead letter %s: replay attempt not audited: %s", dead_letter_id, audit_exc)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def _replay(
    state: AppState, dead_letter_id: str, replay: ReplayBody, caller: Principal
) -> Any:
    row = await asyncio.to_thread(_claim, state, dead_letter_id)
    text = replay.body if replay.body is not None else row.raw_body
    # A responder may correct a bad field; the audit keeps the hashes of both bodies.
    record: dict[str, Any] = {
        "source": row.source,
        "body_changed": text != row.raw_body,
        "stored_sha256": _sha256(row.raw_body),
        "replayed_sha256": _sha256(text),
    }
    try:
        body = text.encode("utf-8")
        path_source = _format_source(state, row.endpoint)
        query = str(row.headers.get(QUERY_KEY, ""))
        alert = admit_alert(state, body, path_source, Caller(source=None), query)
        # A generic body names its source; a replay may not move it under another one.
        if path_source is None and row.source is not None and alert.source != row.source:
            message = f"a replay keeps the dead letter's source {row.source!r}"
            raise Rejection(
                422,
                "replay changes the source",
                [{"field": "source", "message": message, "type": "value_error"}],
            )
    except Rejection as rejection:
        await asyncio.to_thread(_release, state, dead_letter_id)
        record.update(result="rejected", reason=rejection.reason, errors=rejection.errors)
        await asyncio.to_thread(_audit, state, caller.name, dead_letter_id, record)
        content = AlertRejected(
            error=rejection.reason,
            fields=[FieldError(**error) for error in rejection.errors],
            dead_letter_id=dead_letter_id,
        )
        return JSONResponse(content.model_dump(), status_code=rejection.status)
    except BaseException as exc:
        await _failed(state, caller, dead_letter_id, record, exc)
        raise
    try:
        result = await state.intake.accept(alert, text)
    except BaseException as exc:
        await _failed(state, caller, dead_letter_id, record, exc)
        raise

    def mark() -> None:
        with state.store.transaction() as session:
            stored = session.get(DeadLetter, dead_letter_id)
            assert stored is not None
            stored.replay_alert_id = result.alert_id
            record.update(
                result="accepted", alert_id=result.alert_id, incident_id=result.incident_id
            )
            audit.append(
                session,
                actor=caller.name,
                action="dead_letter.replay",
                subject=dead_letter_id,
                data=record,
            )

    await asyncio.to_thread(mark)
    return ReplayAccepted(
        dead_letter_id=dead_letter_id,
        alert_id=result.alert_id,
        incident_id=result.incident_id,
        workflow_id=result.workflow_id,
        deduplicated=result.deduplicated,
    )
