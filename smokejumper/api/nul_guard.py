"""A URL holding NUL (`%00`) is refused before any route reads it.

No path or query parameter of the API or the console has a use for NUL, and PostgreSQL
refuses it even as a query parameter: passed on, it turned lookups by incident reference,
dead-letter id or filter into 500s. Refusing it here covers every route at once, except
intake's: intake refuses such a request itself, after authentication, and keeps it as a
dead letter (a NUL in the query is a 422 naming the parameter, in the source an unknown
source).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

_INTAKE = "/api/v1/alerts"
_BODY = json.dumps(
    {
        "error": "the URL holds a NUL character (%00)",
        "fields": [{"field": "(url)", "message": "NUL is not accepted", "type": "url_nul"}],
    }
).encode()


def _holds_nul(scope: Scope) -> bool:
    query: bytes = scope["query_string"]
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


class RefuseNulInUrl:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(_INTAKE) and _holds_nul(scope):
            start = {
                "type": "http.response.start",
                "status": 400,
                "headers": [(b"content-type", b"application/json")],
            }
            await send(start)
            await send({"type": "http.response.body", "body": _BODY})
            return
        await self.app(scope, receive, send)
