"""Process-wide services the API routes share, built once per app."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi import Request
from temporalio.client import Client

from smokejumper.config import Settings
from smokejumper.intake.routing import Route, Router
from smokejumper.intake.service import IntakeService
from smokejumper.store.db import Store
from smokejumper.temporal.client import connect


@dataclass
class AppState:
    settings: Settings
    store: Store
    intake: IntakeService = field(init=False)
    _client: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        router = Router(_configured_routes(self.settings), self.settings.intake.default_playbook)
        self.intake = IntakeService(
            self.store, self.temporal, router, self.settings.temporal.task_queue
        )

    async def temporal(self) -> Client:
        """Connect on first use, so the API starts (and queues alerts) while Temporal is down."""
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await connect(self.settings.temporal)
        return self._client


def _configured_routes(settings: Settings) -> list[Route]:
    return []


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.smokejumper
    return state
