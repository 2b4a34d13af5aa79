"""`smokejumper mcp`: serve the Model Context Protocol to an assistant (Claude, Cursor...).

Over stdio (the default) it acts as the user whose API token is in `SMOKEJUMPER_TOKEN`;
with `--http` it serves streamable HTTP at `/mcp`, each request acting with the token in
its own `Authorization: Bearer` header.
"""

from __future__ import annotations

import os
from typing import Annotated, Protocol

import anyio
import typer

from cli.output import fail
from smokejumper.config import Settings

TOKEN_ENV = "SMOKEJUMPER_TOKEN"  # noqa: S105 - the variable's name, not a token


class _HasSettings(Protocol):
    @property
    def settings(self) -> Settings: ...


def mcp(
    ctx: typer.Context,
    http: Annotated[
        bool,
        typer.Option("--http", help="Serve streamable HTTP (at /mcp) instead of stdio."),
    ] = False,
    host: Annotated[str, typer.Option(help="Address to listen on, with --http.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port to listen on, with --http.")
    ] = 8766,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", help="The smokejumper API (default: the configured api_url)."),
    ] = None,
) -> None:
    """Serve the Model Context Protocol: an assistant reads incidents, timelines, redacted
    evidence and reports, and adds notes and tasks, as the user its API token belongs to.
    It can never approve or deny a step."""
    # Imported when run: the other commands start without the MCP SDK.
    from smokejumper.mcp_server import serve

    if api_url is None:
        context: _HasSettings = ctx.find_root().obj
        api_url = context.settings.api_url
    if not api_url.startswith(("http://", "https://")):
        raise fail(f"--api-url must be an http:// or https:// URL (got {api_url!r})", 2)
    if http:
        typer.echo(f"smokejumper MCP server at http://{host}:{port}{serve.MCP_PATH}", err=True)
        anyio.run(serve.serve_http, api_url, host, port)
        return
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise fail(
            f"{TOKEN_ENV} is not set: put the API token of the user the assistant acts as in "
            "it (`smokejumper users token NAME`)",
            2,
        )
    if not serve.is_user_token(token):
        raise fail(
            f"{TOKEN_ENV} must hold a user's API token (sjt_…, from `smokejumper users token "
            "NAME`), not the operator token: the assistant acts as a person, with their role",
            2,
        )
    serve.serve_stdio(api_url, token)
