"""The HTTP application: the API's routes, the console and Slack's endpoints in one FastAPI
app (above `api` and `console`, which it assembles)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from smokejumper import __version__
from smokejumper.api import (
    alerts,
    case_work,
    codec,
    dead_letters,
    dry_runs,
    erasure,
    evidence,
    health,
    incident_actions,
    incidents,
    inventory,
    legal_holds,
    metrics,
    mirror_webhooks,
    outage,
    reports,
    slack,
    tasks,
    validation_errors,
)
from smokejumper.api.controls_wiring import install_controls
from smokejumper.api.nul_guard import RefuseNulInUrl
from smokejumper.api.state import AppState
from smokejumper.config import ConfigError, Settings
from smokejumper.console import mount_console
from smokejumper.domain.routing import Route
from smokejumper.incidents.legal_holds import EvidenceDeleter
from smokejumper.observability.tracing import untraced_request
from smokejumper.store.audit_seal import HeadCheckpoints
from smokejumper.store.db import Store
from smokejumper.store.open import open_store


def create_app(
    settings: Settings,
    store: Store | None = None,
    normalizers: Mapping[str, Any] | None = None,
    playbook_routes: list[Route] | None = None,
    known_playbooks: Collection[str] | None = None,
    evidence_reader: evidence.EvidenceReader | None = None,
    evidence_deleter: EvidenceDeleter | None = None,
    audit_checkpoints: HeadCheckpoints | None = None,
    slack_responder: slack.SlackResponderFactory | None = None,
) -> FastAPI:
    """The API, the console and Slack's endpoints. From the process that assembles the
    parts: `normalizers` (source formats), `playbook_routes` and `known_playbooks`,
    `evidence_reader` (evidence store URI to bytes, which serves raw evidence),
    `evidence_deleter` (removes an evidence object, for purges),
    `audit_checkpoints` (where the audit log's signed head goes, for the store it opens)
    and `slack_responder` (which answers Slack's verified clicks and commands).

    Raises ConfigError when a configured route or the default playbook names a playbook
    that is not among `known_playbooks` (when given).
    """
    if known_playbooks is not None:
        check_playbooks(settings, known_playbooks)
    owned_store = store is None
    state = AppState(
        settings=settings,
        store=store or open_store(settings, audit_checkpoints),
        normalizers=dict(normalizers or {}),
        playbook_routes=list(playbook_routes or []),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        gate = getattr(app.state, "slack_gate", None)
        if gate is not None:
            await gate.responder.drain()
        await state.intake.close()
        if owned_store:
            state.store.dispose()

    app = FastAPI(
        title="smokejumper",
        version=__version__,
        description="Incident response for Generative-AI systems.",
        lifespan=lifespan,
        telemetry={"exclude": untraced_request},
    )
    app.state.smokejumper = state
    outage.install(app)
    validation_errors.install(app)
    app.add_middleware(RefuseNulInUrl)
    app.include_router(alerts.router)
    app.include_router(incidents.router)
    app.include_router(incident_actions.router)
    app.include_router(case_work.router)
    app.include_router(dead_letters.router)
    app.include_router(health.router)
    install_controls(app, state)
    app.include_router(evidence.router)
    app.include_router(legal_holds.router)
    app.include_router(tasks.router)
    app.include_router(erasure.router)
    app.include_router(metrics.router)
    app.include_router(codec.router)
    app.include_router(inventory.router)
    app.include_router(dry_runs.router)
    app.state.evidence_reader = evidence_reader
    app.state.evidence_deleter = evidence_deleter
    app.state.slack_responder = slack_responder
    app.include_router(reports.router)
    mount_console(app, state)
    app.include_router(slack.router)
    app.include_router(mirror_webhooks.router)
    return app


def check_playbooks(settings: Settings, known: Collection[str]) -> None:
    wanted = [(f"routes.{i}.playbook", r.playbook) for i, r in enumerate(settings.routes)]
    wanted.append(("intake.default_playbook", settings.intake.default_playbook))
    problems = [
        f"  {key}: no playbook named {name!r} (known: {', '.join(sorted(known))})"
        for key, name in wanted
        if name not in known
    ]
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(problems))
