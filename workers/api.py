"""`smokejumper api`: the HTTP API server."""

from __future__ import annotations

import uvicorn

from smokejumper.api.app import create_app
from smokejumper.config import Settings


def main(settings: Settings) -> None:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.api.host,
        port=settings.api.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()
