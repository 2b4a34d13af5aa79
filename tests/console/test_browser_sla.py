"""Service levels in the console, in a real browser (Debian's chromium): the incident page's
panel runs, is met by an acknowledgement made elsewhere and turns red at a breach, all
without a reload; the incident list flags breached and nearly due incidents. Over plain
HTTP, a viewer sees the same."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment

from smokejumper.incidents.service import find_incident
from tests.console.conftest import Console, add_users
from tests.console.live_playbooks import TwoPersonIsolate
from tests.console.test_access import sign_in
from tests.console.test_browser_live import LIVE, browser, not_reloaded, signed_in
from tests.engine import engine_on
from tests.test_end_to_end import example

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

__all__ = ["browser"]

# The example alert is `high`: acknowledge within 30 min, contain within 60, a warning
# 10 min before each.
SLAS = {"high": {"acknowledge_minutes": 30, "contain_minutes": 60, "remind_before_minutes": 10}}
RED = "rgb(251, 233, 234)"
AMBER = "rgb(255, 244, 220)"


@pytest_asyncio.fixture
async def sla_console(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Console]:
    async with engine_on(
        tmp_path,
        database_url,
        temporal_env,
        workflows=[TwoPersonIsolate],
        approvers={"oncall": ["alice", "rita"]},
        routes=[{"playbook": "test-console-two-person", "kinds": ["data_leakage"]}],
        slas=SLAS,
    ) as engine:
        yield Console(engine, add_users(engine.store))


async def opened(console: Console, title: str) -> str:
    """An incident that waits for approvals (it stays open unless someone acknowledges it)."""
    accepted = await console.engine.http.post(
        "/api/v1/alerts",
        json=example(kind="data_leakage", dedup_key=uuid.uuid4().hex, title=title),
    )
    assert accepted.status_code == 202, accepted.text
    ref: str = accepted.json()["incident_id"]
    return ref


def opened_ago(console: Console, ref: str, ago: timedelta) -> None:
    """Pretend the incident was opened `ago`: its targets run from then."""
    with console.engine.store.transaction() as session:
        incident = find_incident(session, ref)
        assert incident is not None
        incident.opened_at = incident.opened_at - ago


async def test_sla_panel_runs_is_met_live_and_turns_red_at_a_breach(
    sla_console: Console, browser: Browser
) -> None:
    ref = await opened(sla_console, "Leak through the support bot")
    alice = await signed_in(browser, sla_console, "alice", f"/incidents/{ref}")

    acknowledge = alice.get_by_test_id("sla-acknowledge")
    contain = alice.get_by_test_id("sla-contain")
    await expect(acknowledge.get_by_test_id("sla-target")).to_have_text("30 min")
    await expect(acknowledge.get_by_test_id("sla-state")).to_contain_text("running")
    await expect(acknowledge.get_by_test_id("sla-state")).to_contain_text(
        re.compile(r"\d+m.* left")
    )
    await expect(contain.get_by_test_id("sla-target")).to_have_text("60 min")
    await expect(contain.get_by_test_id("sla-state")).to_contain_text("running")

    # rita acknowledges through the API: alice's page shows the target met, by itself.
    async with sla_console.as_user("rita") as rita:
        acked = await rita.post(f"/api/v1/incidents/{ref}/acknowledge")
    assert acked.status_code == 200, acked.text
    await expect(acknowledge.get_by_test_id("sla-state")).to_contain_text(
        re.compile(r"^met at \d{4}-\d\d-\d\d .*UTC$"), timeout=LIVE
    )
    await expect(acknowledge).to_have_class(re.compile(r"\bsla-met\b"))
    await expect(contain.get_by_test_id("sla-state")).to_contain_text("running")
    await not_reloaded(alice)

    # Two hours on, not contained: breached by an hour, in red; acknowledging came late.
    opened_ago(sla_console, ref, timedelta(hours=2))
    await expect(contain.get_by_test_id("sla-state")).to_contain_text(
        re.compile(r"breached by 1h 0\dm"), timeout=LIVE
    )
    await expect(contain).to_have_css("background-color", RED)
    await expect(acknowledge.get_by_test_id("sla-state")).to_contain_text("met late")
    await not_reloaded(alice)

    # Another incident 25 minutes in: 5 minutes left to acknowledge, due soon (amber).
    soon = await opened(sla_console, "Leak through the billing bot")
    opened_ago(sla_console, soon, timedelta(minutes=25))
    await alice.get_by_role("link", name="Incidents").click()
    breached_row = alice.locator("table.list tbody tr", has_text=ref)
    await expect(breached_row.get_by_test_id("sla-flag")).to_have_text("SLA breached")
    soon_row = alice.locator("table.list tbody tr", has_text=soon)
    await expect(soon_row.get_by_test_id("sla-flag")).to_have_text("SLA due soon")
    await soon_row.get_by_role("link", name=soon).click()
    soon_ack = alice.get_by_test_id("sla-acknowledge")
    await expect(soon_ack.get_by_test_id("sla-state")).to_contain_text("running")
    await expect(soon_ack.get_by_test_id("sla-state")).to_contain_text("(due soon)")
    await expect(soon_ack).to_have_css("background-color", AMBER)
    await alice.close()


async def test_a_viewer_sees_the_service_levels_over_http(sla_console: Console) -> None:
    ref = await opened(sla_console, "Leak seen by a viewer")
    opened_ago(sla_console, ref, timedelta(minutes=45))
    async with httpx.AsyncClient(base_url=sla_console.url, timeout=30) as victor:
        await sign_in(victor, "victor")
        page = await victor.get(f"/incidents/{ref}")
        assert page.status_code == 200
        html = page.text
        assert 'data-testid="sla-acknowledge"' in html and "sla-breached" in html
        assert re.search(r"<strong>breached</strong> by 1[45]m", html), html
        assert "30 min" in html and "60 min" in html
        live = await victor.get(f"/incidents/{ref}/live")
        assert live.status_code == 200 and 'data-panel="slas"' in live.text
        listing = await victor.get("/")
        row = next(r for r in listing.text.split("<tr>") if f">{ref}<" in r)
        assert "SLA breached" in row
        # The API gives the same states the page shows.
        answer = await victor.get(
            f"/api/v1/incidents/{ref}/slas",
            headers={"authorization": f"Bearer {sla_console.tokens['victor']}"},
        )
        assert [(s["kind"], s["state"]) for s in answer.json()] == [
            ("acknowledge", "breached"),
            ("contain", "running"),
        ]
