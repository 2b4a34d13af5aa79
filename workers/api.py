"""`smokejumper api`: the HTTP API server."""

from __future__ import annotations

import uvicorn

from integrations.evidence.checkpoints import head_checkpoints
from integrations.evidence.registry import evidence_store
from integrations.sources.registry import NORMALIZERS
from smokejumper.api.app import create_app
from smokejumper.config import Settings
from smokejumper.sdk.registry import discover, routes_of


def main(settings: Settings) -> None:
    playbooks = discover(settings)
    app = create_app(
        settings,
        normalizers=NORMALIZERS,
        playbook_routes=routes_of(playbooks),
        known_playbooks=playbooks,
        evidence_reader=evidence_store(settings).get,
        audit_checkpoints=head_checkpoints(settings),
    )
    config = uvicorn.Config(
        app,
        host=settings.api.host,
        port=settings.api.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        # X-Forwarded-For is believed only from configured proxies.
        proxy_headers=bool(settings.api.trusted_proxies),
        forwarded_allow_ips=",".join(settings.api.trusted_proxies) or None,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()
