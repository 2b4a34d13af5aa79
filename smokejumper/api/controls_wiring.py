"""How the controls check is mounted in the API: one `ControlPlaneView` per app, answered
by the raw ASGI handler ahead of routing on the API's port, and on `api.controls_port`
by the controls listener while the app runs (see smokejumper.api.controls_listener)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from smokejumper.api import controls
from smokejumper.api.controls_asgi import AcceptedTokens, ControlsApp
from smokejumper.api.controls_listener import ControlsListener
from smokejumper.api.state import AppState


def accepted_tokens(state: AppState) -> AcceptedTokens:
    """The controls token, if set, and the operator token."""
    tokens = [state.operator_token]
    if state.settings.api.controls_token is not None:
        tokens.append(state.settings.api.controls_token.get_secret_value())
    return AcceptedTokens(tokens)


def install_controls(app: FastAPI, state: AppState) -> None:
    settings = state.settings
    view = controls.ControlPlaneView(
        settings.local_keys_file,
        settings.local_endpoints_file,
        settings.local_principals_file,
        settings.local_documents_file,
        settings.local_filter_rules_file,
    )
    app.state.controls = view
    tokens = accepted_tokens(state)
    # The routes stay for the OpenAPI schema; requests are answered before routing.
    app.include_router(controls.router)
    app.add_middleware(ControlsApp, view=view, tokens=tokens)
    port = settings.api.controls_port
    if port is None:
        return
    listener = ControlsListener(
        view,
        tokens,
        settings.api.host,
        port,
        header_timeout=settings.api.header_timeout_seconds,
        max_connections=settings.api.max_connections,
    )
    app.state.controls_listener = listener

    @asynccontextmanager
    async def serving(_: FastAPI) -> AsyncIterator[None]:
        await listener.start()
        try:
            yield
        finally:
            await listener.stop()

    app.include_router(APIRouter(lifespan=serving))
