"""`smokejumper api`: the HTTP API server."""

from __future__ import annotations

import uvicorn

from integrations.evidence.checkpoints import head_checkpoints
from integrations.evidence.registry import evidence_store
from integrations.slack.feed import install_feed
from integrations.slack.responder import slack_responder
from integrations.sources.registry import NORMALIZERS
from smokejumper.api.server import server_config
from smokejumper.app import create_app
from smokejumper.config import Settings
from smokejumper.observability.tracing import configure_tracing
from smokejumper.sdk.registry import discover, routes_of


def main(settings: Settings) -> None:
    configure_tracing(settings, "api")
    playbooks = discover(settings)
    evidence = evidence_store(settings)
    app = create_app(
        settings,
        normalizers=NORMALIZERS,
        playbook_routes=routes_of(playbooks),
        known_playbooks=playbooks,
        evidence_reader=evidence.get,
        evidence_deleter=evidence.delete,
        audit_checkpoints=head_checkpoints(settings),
        slack_responder=slack_responder,
    )
    # Erasure rewrites evidence objects (smokejumper.api.erasure).
    app.state.evidence_objects = evidence
    # Tasks added or completed over the API reach the incident's Slack thread.
    install_feed(app)
    config = server_config(app, settings)
    uvicorn.Server(config).run()
