"""How the API is served: uvicorn with the connection guard (smokejumper.api.connections)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from smokejumper.api.connections import guarded_protocol
from smokejumper.config import Settings


def server_config(
    app: FastAPI, settings: Settings, *, log_level: str | None = None
) -> uvicorn.Config:
    api = settings.api
    return uvicorn.Config(
        app,
        host=api.host,
        port=api.port,
        log_level=(log_level or settings.log_level).lower(),
        # JSON logs: uvicorn's own lines go to the root handler too (one object a line),
        # rather than to the text handlers its default configuration installs.
        log_config=None if settings.observability.log_format == "json" else LOGGING_CONFIG,
        access_log=False,
        # X-Forwarded-For is believed only from configured proxies.
        proxy_headers=bool(api.trusted_proxies),
        forwarded_allow_ips=",".join(api.trusted_proxies) or None,
        timeout_graceful_shutdown=10,
        http=guarded_protocol(api.header_timeout_seconds, api.max_connections),
        # A request head larger than this is refused (h11's default is 16 KiB).
        h11_max_incomplete_event_size=64 * 1024,
    )
