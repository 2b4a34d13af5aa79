"""A URL holding NUL (`%00`) is refused (422) before any route reads it.

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


def _refusal(where: str) -> bytes:
    # FastAPI's own shape for a malformed parameter, so clients read it like any other.
    error = {"type": "url_nul", "loc": [where], "msg": "NUL (%00) is not accepted here"}
    return json.dumps({"detail": [error]}).encode()


def _nul_in(scope: Scope) -> str | None:
    """Where the URL holds NUL ("path" or "query"), if it does."""
    query: bytes = scope["query_string"]
    if "\x00" in scope["path"]:
        return "path"
    if b"%00" in query or b"\x00" in query:
        return "query"
    return None


class RefuseNulInUrl:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = None
        if scope["type"] == "http" and not scope["path"].startswith(_INTAKE):
            where = _nul_in(scope)
        if where is None:
            await self.app(scope, receive, send)
            return
        start = {
            "type": "http.response.start",
            "status": 422,
            "headers": [(b"content-type", b"application/json")],
        }
        await send(start)
        await send({"type": "http.response.body", "body": _refusal(where)})
