"""Mirror tests: emulators of PagerDuty, Opsgenie, Jira and a Teams webhook, an engine
wired to them, and the leak scan over everything the emulators received."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from integrations.keys.local import LocalKeys
from integrations.mirrors.messages import mirror_relay_id
from smokejumper.store.tables import Incident
from tests.engine import Engine, engine_on, terminate_workflows
from tests.integrations.emulators.base import Emulator
from tests.integrations.emulators.jira import JiraCloud
from tests.integrations.emulators.opsgenie import OpsgenieAlerts
from tests.integrations.emulators.pagerduty import PagerDutyEvents
from tests.integrations.emulators.teams import TeamsWebhook
from tests.integrations.mirrors.mirror_playbooks import LEAKED_KEY, ContainAndWait
from tests.slack.planted import PLANTED

PD_WEBHOOK_SECRET = "pd-webhook-" + "0" * 20
JIRA_WEBHOOK_SECRET = "jira-webhook-" + "1" * 20
OPSGENIE_WEBHOOK_SECRET = "og-webhook-" + "2" * 20
SYSTEMS = ("pagerduty", "opsgenie", "jira", "teams")


class Tools:
    def __init__(self) -> None:
        self.pagerduty = PagerDutyEvents(secrets.token_hex(16))
        self.jira = JiraCloud("bot@example.com", secrets.token_urlsafe(24), {"SEC": ["Incident"]})
        self.opsgenie = OpsgenieAlerts(secrets.token_hex(18))
        self.teams = TeamsWebhook()

    @property
    def all(self) -> list[Emulator]:
        return [self.pagerduty, self.jira, self.opsgenie, self.teams]

    def config(self, folder: Path) -> dict[str, Any]:
        """The four sections, secrets as file references like production."""
        folder.mkdir(exist_ok=True)

        def ref(name: str, value: str) -> str:
            (folder / name).write_text(value)
            return f"file:{folder / name}"

        fast = {"sync_seconds": 0.3, "timeout_seconds": 3}
        return {
            "pagerduty": {
                "routing_key": ref("pd", self.pagerduty.routing_key),
                "events_url": self.pagerduty.url,
                "min_severity": "high",
                "webhook_secret": ref("pd-hook", PD_WEBHOOK_SECRET),
                **fast,
            },
            "jira": {
                "url": self.jira.url,
                "email": "bot@example.com",
                "api_token": ref("jira", self.jira.credential_token),
                "project": "SEC",
                "issue_type": "Incident",
                "fields": {"labels": ["genai"]},
                "transitions": {
                    "acknowledged": "In Progress",
                    "resolved": "Done",
                    "closed": "Done",
                },
                "statuses": {"In Progress": "acknowledged", "Done": "resolved"},
                "webhook_secret": ref("jira-hook", JIRA_WEBHOOK_SECRET),
                **fast,
            },
            "opsgenie": {
                "api_key": ref("og", self.opsgenie.api_key),
                "api_url": self.opsgenie.url,
                "webhook_secret": ref("og-hook", OPSGENIE_WEBHOOK_SECRET),
                **fast,
            },
            "teams": {"webhook_url": ref("teams", self.teams.webhook_url), **fast},
        }

    def leaks(self) -> list[tuple[str, str]]:
        """(request path, start of the secret) for every planted value a tool received."""
        hits = []
        for emulator in self.all:
            for request in emulator.requests:
                sent = json.dumps(request.body, ensure_ascii=False)
                hits += [(request.path, p[:6]) for p in PLANTED if p in sent]
        return hits


@pytest.fixture
def tools() -> Iterator[Tools]:
    """Running emulators; at the end, every request they received is scanned for the
    planted secrets (and a scan of nothing fails: it would prove nothing)."""
    made = Tools()
    for emulator in made.all:
        emulator.start()
    try:
        yield made
    finally:
        for emulator in made.all:
            emulator.stop()
    assert any(e.requests for e in made.all), "no tool received anything"
    assert not made.leaks(), f"planted secrets reached a tool: {made.leaks()}"


@asynccontextmanager
async def mirrored_engine(
    tmp_path: Path, database_url: str, env: WorkflowEnvironment, tools: Tools
) -> AsyncIterator[Engine]:
    async with engine_on(
        tmp_path,
        database_url,
        env,
        workflows=[ContainAndWait],
        routes=[{"playbook": ContainAndWait.name, "kinds": ["data_leakage"]}],
        **tools.config(tmp_path / "secrets"),
    ) as engine:
        LocalKeys(engine.settings.local_keys_file).create(LEAKED_KEY)
        try:
            yield engine
        finally:
            with engine.store.session() as session:
                rows = session.execute(select(Incident.id, Incident.workflow_id)).all()
            await terminate_workflows(engine.client, {wf for _, wf in rows})
            await terminate_workflows(
                engine.client,
                [mirror_relay_id(s, wf, number) for number, wf in rows for s in SYSTEMS],
            )
