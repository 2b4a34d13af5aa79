"""Process-wide services the API routes share, built once per app."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from temporalio.client import Client

from smokejumper.config import Settings
from smokejumper.domain.routing import Route, Router
from smokejumper.intake.auth import SourceAuthenticator
from smokejumper.intake.rate_limits import RateLimits
from smokejumper.intake.service import IntakeService
from smokejumper.observability.tracing import tracing_interceptors
from smokejumper.security.operator import operator_token
from smokejumper.store.db import Store
from smokejumper.temporal.client import connect


@dataclass
class AppState:
    settings: Settings
    store: Store
    # Source formats by name, from the process that builds the app (workers/api.py).
    normalizers: Mapping[str, Any] = field(default_factory=dict)
    playbook_routes: list[Route] = field(default_factory=list)
    intake: IntakeService = field(init=False)
    authenticator: SourceAuthenticator = field(init=False)
    rate_limits: RateLimits = field(init=False)
    operator_token: str = field(init=False, repr=False)
    _client: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        # Config routes first: operators override what playbooks declare.
        routes = [*self.settings.routes, *self.playbook_routes]
        router = Router(routes, self.settings.intake.default_playbook)
        self.intake = IntakeService(
            self.store,
            self.temporal,
            router,
            self.settings.temporal.task_queue,
            reopen_window_seconds=self.settings.intake.reopen_window_seconds,
            duplicate_window_seconds=self.settings.intake.duplicate_signal_window_seconds,
            workflow_id_prefix=self.settings.temporal.workflow_id_prefix,
            queue_for=self.settings.temporal.queue_for,
            fingerprint_fields={
                name: source.fingerprint
                for name, source in self.settings.sources.items()
                if source.fingerprint is not None
            },
        )
        self.operator_token = operator_token(self.settings, create=True)
        self.authenticator = SourceAuthenticator(self.settings, self.operator_token)
        self.rate_limits = RateLimits(self._rate_limit_of)

    def _rate_limit_of(self, source: str | None) -> tuple[float, int]:
        """(alerts a second, burst) a source may push; the operator (None) is not limited."""
        if source is None:
            return 0.0, 1
        intake = self.settings.intake
        configured = self.settings.sources.get(source)
        rate = configured.rate_limit_per_second if configured else None
        burst = configured.rate_limit_burst if configured else None
        return (
            intake.rate_limit_per_second if rate is None else rate,
            intake.rate_limit_burst if burst is None else burst,
        )

    async def temporal(self) -> Client:
        """Connect on first use, so the API starts (and queues alerts) while Temporal is down."""
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await connect(
                        self.settings.temporal,
                        interceptors=tracing_interceptors(self.settings),
                    )
        return self._client


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.smokejumper
    return state
