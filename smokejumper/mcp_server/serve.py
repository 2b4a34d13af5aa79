"""The two ways `smokejumper mcp` serves: over stdio for one user (their API token from
the environment), and over streamable HTTP for many, each request carrying its user's
token in `Authorization: Bearer`, which the server passes on and never shares.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from smokejumper.intake.auth import bearer
from smokejumper.mcp_server.rest import ApiRefused, RestApi
from smokejumper.mcp_server.tools import build_server
from smokejumper.security.users import TOKEN_PREFIX

MCP_PATH = "/mcp"
# A token the API accepted is not asked about again for this long; the API still checks it
# on every call a tool makes, so a revoked token stops working at once there.
_ACCEPTED_FOR_SECONDS = 30.0
_MAX_REMEMBERED = 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_user_token(token: str) -> bool:
    """A user's API token, not the operator token: an assistant acts as a person, with
    that person's role, never as the engine's own admin credential."""
    return token.startswith(TOKEN_PREFIX)


def serve_stdio(api_url: str, token: str) -> None:
    """Serve one user over stdin/stdout until the client closes them."""
    api = RestApi(api_url, token)
    server = build_server(lambda _ctx: api)
    anyio.run(server.run_stdio_async)


def _token_of(ctx: Context) -> str:
    headers = ctx.headers
    token = bearer(headers) if headers is not None else None
    if token is None or not is_user_token(token):
        raise ToolError("no user's API token: send `Authorization: Bearer <token>`")
    return token


def http_app(api_url: str, host: str = "127.0.0.1") -> Asgi:
    """The streamable HTTP endpoint (`/mcp`), refusing requests without a token the API
    accepts. Stateless: every request stands alone, with its own token."""
    server = build_server(lambda ctx: RestApi(api_url, _token_of(ctx)))
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH, stateless_http=True, json_response=True, host=host
    )
    return TokenRequired(app, api_url)


async def serve_http(api_url: str, host: str, port: int) -> None:
    config = uvicorn.Config(
        http_app(api_url, host), host=host, port=port, log_level="warning", access_log=False
    )
    await uvicorn.Server(config).serve()


class TokenRequired:
    """Answers 401 to a request without a bearer token, or with one the API refuses,
    before the MCP layer sees it."""

    def __init__(self, app: Asgi, api_url: str) -> None:
        self.app = app
        self.api_url = api_url
        self._accepted: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw: list[tuple[bytes, bytes]] = scope.get("headers", [])
        credentials = [value for name, value in raw if name.lower() == b"authorization"]
        if len(credentials) > 1:
            # Checked here the last, read by a tool the first: one credential per request.
            await _refuse(send, 401, "send one Authorization header, not several")
            return
        token = bearer({"authorization": credentials[0].decode("latin-1")} if credentials else {})
        if token is None or not is_user_token(token):
            await _refuse(send, 401, "bearer token required: a smokejumper user's API token")
            return
        problem = await self._check(token)
        if problem is not None:
            await _refuse(send, *problem)
            return
        await self.app(scope, receive, send)

    async def _check(self, token: str) -> tuple[int, str] | None:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        if self._accepted.get(key, 0.0) > now:
            return None
        try:
            # The cheapest call every role may make.
            await RestApi(self.api_url, token).request(
                "GET", "/api/v1/incidents", params={"limit": 1}
            )
        except ApiRefused as exc:
            if exc.status in (401, 403):
                return 401, "the smokejumper API did not accept this token"
            return 503, str(exc)
        if len(self._accepted) >= _MAX_REMEMBERED:
            self._accepted = {k: t for k, t in self._accepted.items() if t > now}
        self._accepted[key] = now + _ACCEPTED_FOR_SECONDS
        return None


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"error": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
