"""A store outage is a 503 with Retry-After on every route, never a 500.

Intake answers its own (nothing was stored, so the sender must retry rather than be told
an id that does not exist); every other route gets the same answer from the handler
installed here. Sessions are scoped to one unit of work and closed on the way out, so a
cut connection is discarded with its session and the pool (pre-ping) hands the next
request a fresh one once the database is back.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError

from smokejumper.store.outage import STORE_OUTAGE

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


def store_unavailable(exc: Exception) -> JSONResponse:
    """The answer to a request the store could not serve: retry later."""
    # The driver's error class only: its message may quote the statement or its values.
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    log.error("store unavailable, answered 503: %s", type(cause).__name__)
    return JSONResponse(
        {"error": "the incident store is unavailable; retry later", "fields": []},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _handler(request: Request, exc: Exception) -> Response:
    return store_unavailable(exc)


def install(app: FastAPI) -> None:
    for kind in STORE_OUTAGE:
        app.add_exception_handler(kind, _handler)
