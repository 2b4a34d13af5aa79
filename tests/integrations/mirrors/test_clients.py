"""Each tool's client against its emulator: what a refusal and an outage become (a
skipped entry, a retry), and that the requests pass the documented validation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from integrations.mirrors.base import (
    ExternalRef,
    IncidentFacts,
    MirrorEvent,
    MirrorRefused,
    MirrorUnavailable,
)
from integrations.mirrors.jira import JiraMirror
from integrations.mirrors.opsgenie import OpsgenieMirror
from integrations.mirrors.pagerduty import PagerDutyMirror
from integrations.mirrors.teams import TeamsMirror
from smokejumper.settings.mirrors import (
    JiraSettings,
    OpsgenieSettings,
    PagerDutySettings,
    TeamsSettings,
)
from tests.integrations.mirrors.conftest import Tools

INCIDENT = IncidentFacts(
    incident_id=1,
    ref="INC-2026-0042",
    title="x" * 300,
    kind="data_leakage",
    severity="critical",
    status="open",
    url="https://smokejumper.example/incidents/INC-2026-0042",
    opened_at=datetime(2026, 12, 5, tzinfo=UTC),
)
OPENED = MirrorEvent(kind="playbook.started", message="", actor="playbook:x", event_key="k1")


class Kept:
    def __init__(self) -> None:
        self.ref: ExternalRef | None = None

    def get(self) -> ExternalRef | None:
        return self.ref

    def keep(self, ref: ExternalRef) -> None:
        self.ref = ref


@pytest.fixture
def emulators() -> Iterator[Tools]:
    made = Tools()
    for emulator in made.all:
        emulator.start()
    yield made
    for emulator in made.all:
        emulator.stop()


async def test_long_titles_fit_each_tools_limits(emulators: Tools) -> None:
    pagerduty = PagerDutyMirror(
        PagerDutySettings(
            routing_key=SecretStr(emulators.pagerduty.routing_key),
            events_url=emulators.pagerduty.url,
        )
    )
    opsgenie = OpsgenieMirror(
        OpsgenieSettings(
            api_key=SecretStr(emulators.opsgenie.api_key), api_url=emulators.opsgenie.url
        )
    )
    jira = JiraMirror(_jira(emulators))
    for mirror in (pagerduty, opsgenie, jira):
        refs = Kept()
        await mirror.deliver(INCIDENT, OPENED, refs)
        assert refs.ref is not None, mirror.system
        await mirror.aclose()
    assert emulators.opsgenie.status(INCIDENT.ref) == "open"


async def test_a_refusal_is_not_retried_and_an_outage_is(emulators: Tools) -> None:
    wrong_key = PagerDutyMirror(
        PagerDutySettings(routing_key=SecretStr("f" * 32), events_url=emulators.pagerduty.url)
    )
    with pytest.raises(MirrorRefused, match=r"^pagerduty trigger: HTTP 400$"):
        await wrong_key.deliver(INCIDENT, OPENED, Kept())
    no_project = JiraMirror(_jira(emulators, project="NOPE"))
    with pytest.raises(MirrorRefused, match=r"^jira create issue: HTTP 400$"):
        await no_project.deliver(INCIDENT, OPENED, Kept())
    forged = TeamsMirror(
        TeamsSettings(webhook_url=SecretStr(emulators.teams.webhook_url.replace("sig=", "sig=x")))
    )
    with pytest.raises(MirrorRefused, match="HTTP 401"):
        await forged.deliver(INCIDENT, OPENED, Kept())
    bad_key = OpsgenieMirror(
        OpsgenieSettings(api_key=SecretStr("wrong"), api_url=emulators.opsgenie.url)
    )
    with pytest.raises(MirrorRefused, match="HTTP 401"):
        await bad_key.deliver(INCIDENT, OPENED, Kept())

    emulators.pagerduty.fail("POST", "/v2/enqueue", 429)
    throttled = PagerDutyMirror(
        PagerDutySettings(
            routing_key=SecretStr(emulators.pagerduty.routing_key),
            events_url=emulators.pagerduty.url,
        )
    )
    with pytest.raises(MirrorUnavailable, match="HTTP 429"):
        await throttled.deliver(INCIDENT, OPENED, Kept())
    emulators.pagerduty.stop()
    with pytest.raises(MirrorUnavailable, match="ConnectError"):
        await throttled.deliver(INCIDENT, OPENED, Kept())
    for mirror in (wrong_key, no_project, forged, bad_key, throttled):
        await mirror.aclose()


async def test_a_transition_jira_does_not_offer_is_refused(emulators: Tools) -> None:
    jira = JiraMirror(_jira(emulators, transitions={"resolved": "Cancelled"}))
    refs = Kept()
    await jira.deliver(INCIDENT, OPENED, refs)
    resolved = MirrorEvent(
        kind="incident.status",
        message="",
        actor="alice",
        event_key="k2",
        data={"from": "open", "to": "resolved"},
    )
    with pytest.raises(MirrorRefused, match="offers no transition 'Cancelled'"):
        await jira.deliver(INCIDENT, resolved, refs)
    await jira.aclose()


def _jira(emulators: Tools, **extra: object) -> JiraSettings:
    settings = {
        "url": emulators.jira.url,
        "email": "bot@example.com",
        "api_token": emulators.jira.credential_token,
        "project": "SEC",
        "issue_type": "Incident",
        **extra,
    }
    return JiraSettings.model_validate(settings)
