"""Refusals of malformed input that can always be sent.

FastAPI's 422 quotes the refused input back; an unpaired surrogate (`"\\ud800"` in the
JSON body, which Python decodes) is no UTF-8, so the refusal itself failed to encode and
the client got a 500 instead of the 422 naming its field. The same answer is written here
as ASCII JSON, where such a character is escaped rather than encoded.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response


async def _refused(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _refused)
