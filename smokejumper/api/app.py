"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from smokejumper import __version__
from smokejumper.api import alerts, dead_letters, health, incidents
from smokejumper.api.state import AppState
from smokejumper.config import Settings
from smokejumper.intake.routing import Route
from smokejumper.store.db import Store


def create_app(
    settings: Settings,
    store: Store | None = None,
    normalizers: Mapping[str, Any] | None = None,
    playbook_routes: list[Route] | None = None,
) -> FastAPI:
    """The API; `normalizers` (source formats) and `playbook_routes` come from the caller
    so the core does not import integrations or playbooks."""
    owned_store = store is None
    state = AppState(
        settings=settings,
        store=store or Store(settings.effective_database_url),
        normalizers=dict(normalizers or {}),
        playbook_routes=list(playbook_routes or []),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned_store:
            state.store.dispose()

    app = FastAPI(
        title="smokejumper",
        version=__version__,
        description="Incident response for Generative-AI systems.",
        lifespan=lifespan,
    )
    app.state.smokejumper = state
    app.include_router(alerts.router)
    app.include_router(incidents.router)
    app.include_router(dead_letters.router)
    app.include_router(health.router)
    return app
