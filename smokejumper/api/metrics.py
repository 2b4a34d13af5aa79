"""`GET /metrics` in the Prometheus text format.

Unauthenticated, like most exporters: it carries counts and durations, never incident
content. Restrict who reaches it at the network (or the proxy) if the counts are sensitive.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from smokejumper.api.state import AppState, app_state
from smokejumper.metrics import StoreCollector

router = APIRouter(tags=["metrics"])


def registry(request: Request, state: Annotated[AppState, Depends(app_state)]) -> CollectorRegistry:
    """One registry per app (not the process-global one), so apps built side by side in a
    process never register the same collector twice."""
    found: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if found is None:
        found = CollectorRegistry(auto_describe=False)
        found.register(StoreCollector(state.store))
        request.app.state.metrics_registry = found
    return found


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(registry: Annotated[CollectorRegistry, Depends(registry)]) -> Response:
    body = await asyncio.to_thread(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
