"""The incident page keeps up, in a real browser (Debian's chromium through Playwright):
every panel follows what happens elsewhere without a reload, a two-person approval shows
its tally and voters, the status stands out, an action's before/after reads as a masked
diff, and case work (notes, assignees, tags, tasks) is done from the console and seen live
by a second person. One browser serves every test here."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect
from temporalio.testing import WorkflowEnvironment

from integrations.endpoints.local import LocalEndpoints
from tests.console.conftest import PASSWORDS, Console, add_users
from tests.console.live_playbooks import SECRET, TwoPersonIsolate
from tests.console.test_browser import CHROMIUM_ARGS
from tests.engine import engine_on
from tests.helpers import eventually
from tests.test_end_to_end import example

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# How the console masks SECRET: enough to recognise the key, not to use it.
MASKED = "AKIA…MPLE"
# Long enough for a playbook step and a refresh (every 2 s), short enough to fail fast.
LIVE = 15_000


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Debian's chromium is required for the browser tests; `make test` installs it "
            "(apt-get install chromium)",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture
async def live_console(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Console]:
    async with engine_on(
        tmp_path,
        database_url,
        temporal_env,
        workflows=[TwoPersonIsolate],
        approvers={"oncall": ["alice", "rita"]},
        routes=[{"playbook": "test-console-two-person", "kinds": ["data_leakage"]}],
    ) as engine:
        yield Console(engine, add_users(engine.store))


async def waiting_incident(console: Console) -> tuple[str, str]:
    """(incident, endpoint): an incident whose playbook waits for two approvals to isolate
    a serving endpoint of the local control plane."""
    endpoint = f"support-{uuid.uuid4().hex[:8]}"
    LocalEndpoints(console.engine.settings.local_endpoints_file).create(endpoint)
    accepted = await console.engine.http.post(
        "/api/v1/alerts",
        json=example(
            kind="data_leakage", dedup_key=uuid.uuid4().hex, title=f"Leak through {endpoint}"
        ),
    )
    assert accepted.status_code == 202, accepted.text
    ref: str = accepted.json()["incident_id"]

    async def waiting() -> dict[str, Any] | None:
        live = (await console.engine.http.get(f"/api/v1/incidents/{ref}")).json()["live"]
        return live if live and live["pending_approvals"] == ["isolate"] else None

    await eventually(waiting)
    return ref, endpoint


async def signed_in(browser: Browser, console: Console, name: str, path: str) -> Page:
    """A page of its own (own cookies: its own session) signed in as `name`, at `path`."""
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    await page.goto(f"{console.url}/login?next={path}")
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(PASSWORDS[name])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    # Set after loading: still there later means the page was never reloaded.
    await page.evaluate("window.notReloaded = true")
    return page


async def not_reloaded(page: Page) -> None:
    assert await page.evaluate("window.notReloaded === true"), "the page was reloaded"


async def test_every_panel_follows_a_two_person_approval_without_a_reload(
    live_console: Console, browser: Browser
) -> None:
    ref, endpoint = await waiting_incident(live_console)
    alice = await signed_in(browser, live_console, "alice", f"/incidents/{ref}")
    victor = await signed_in(browser, live_console, "victor", f"/incidents/{ref}")

    votes = alice.get_by_test_id("votes-isolate")
    await expect(votes).to_contain_text("0 of 2 approvals")
    await expect(votes).to_contain_text("no votes yet")
    header = alice.get_by_test_id("panel-header")
    await expect(header.get_by_test_id("status")).to_have_text("open")
    await expect(header.get_by_test_id("closed-at")).to_have_text("—")

    # alice's vote: the tally and the voter, on her page and live on victor's.
    approval = alice.get_by_test_id("approval-isolate")
    await approval.get_by_label("Reason").fill("confirmed in the proxy logs")
    await approval.get_by_role("button", name="Approve").click()
    await expect(alice.get_by_test_id("flash")).to_contain_text("1 more approval(s) needed")
    await alice.evaluate("window.notReloaded = true")
    for page in (alice, victor):
        tally = page.get_by_test_id("votes-isolate")
        await expect(tally).to_contain_text("1 of 2 approvals", timeout=LIVE)
        await expect(tally).to_contain_text("alice (approved via console)")

    # rita decides elsewhere (the API): header, actions and evidence catch up by themselves.
    async with live_console.as_user("rita") as rita:
        answer = await rita.post(
            f"/api/v1/incidents/{ref}/approvals/isolate",
            json={"approve": True, "reason": "second pair of eyes"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"]["outcome"] == "approved"
    for page in (alice, victor):
        await expect(page.get_by_test_id("panel-header").get_by_test_id("status")).to_have_text(
            "contained", timeout=LIVE
        )
        await expect(page.get_by_test_id("contained-at")).not_to_have_text("—")
        await expect(page.get_by_test_id("panel-evidence")).to_contain_text(
            "isolation.log", timeout=LIVE
        )
        actions = page.get_by_test_id("panel-actions")
        await expect(actions).to_contain_text(endpoint, timeout=LIVE)
        diff = actions.get_by_test_id("diff")
        await expect(diff.locator("tr.diff-changed", has_text="status")).to_contain_text(
            "serving → isolated"
        )
        added = diff.locator("tr.diff-added", has_text="details.reason")
        await expect(added).to_contain_text(f"leaked key {MASKED}")
        await expect(page.get_by_test_id("approval-isolate")).to_have_count(0)
        await expect(page.get_by_test_id("timeline")).to_contain_text(
            "rita approved isolate via api"
        )
        assert SECRET not in await page.content()
        await not_reloaded(page)

    # Nothing new: the refresh is answered 304 and the page is left as it is.
    first = await alice.request.get(f"{live_console.url}/incidents/{ref}/live")
    tag = first.headers["etag"]
    again = await alice.request.get(
        f"{live_console.url}/incidents/{ref}/live", headers={"if-none-match": tag}
    )
    assert again.status == 304

    # Closing shows on the status badge, the Closed row, and in the list's Closed tab.
    await alice.get_by_label("Close reason").fill("contained and reviewed")
    await alice.get_by_role("button", name="Close incident").click()
    await expect(alice.get_by_test_id("panel-header").get_by_test_id("status")).to_have_text(
        "closed"
    )
    await expect(alice.get_by_test_id("closed-at")).to_contain_text("UTC")
    await expect(victor.get_by_test_id("panel-header").get_by_test_id("status")).to_have_text(
        "closed", timeout=LIVE
    )
    await alice.get_by_role("link", name="Incidents").click()
    closed_tab = alice.get_by_test_id("status-closed")
    await expect(closed_tab).to_contain_text("Closed 1")
    await closed_tab.click()
    await expect(alice).to_have_url(re.compile(r"/\?status=closed$"))
    row = alice.locator("table.list tbody tr", has_text=ref)
    await expect(row.get_by_test_id("status")).to_have_text("closed")
    await alice.close()
    await victor.close()


async def test_the_site_icon_is_served(live_console: Console, browser: Browser) -> None:
    page = await browser.new_page()
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    await page.goto(f"{live_console.url}/login")
    icon = await page.request.get(f"{live_console.url}/favicon.ico")
    assert icon.status == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert "max-age" in icon.headers["cache-control"]
    assert (await icon.body())[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    svg = await page.request.get(f"{live_console.url}/static/favicon.svg")
    assert svg.status == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert missing == []
    await page.close()


async def test_case_work_from_the_console_is_seen_live_by_a_viewer(
    live_console: Console, browser: Browser
) -> None:
    ref, _ = await waiting_incident(live_console)
    alice = await signed_in(browser, live_console, "alice", f"/incidents/{ref}")
    victor = await signed_in(browser, live_console, "victor", f"/incidents/{ref}")

    # victor is typing in nothing, yet must not be offered any case-work form.
    await expect(victor.get_by_role("button", name="Add note")).to_have_count(0)
    await expect(victor.get_by_role("button", name="Add task")).to_have_count(0)
    await expect(victor.get_by_test_id("panel-casework")).to_have_count(0)

    await alice.get_by_label("New note").fill(f"Rotated the key {SECRET}; watching egress")
    await alice.get_by_role("button", name="Add note").click()
    await expect(alice.get_by_test_id("flash")).to_have_text("Note added.")
    await alice.get_by_label("Assignee").fill("rita")
    await alice.get_by_role("button", name="Assign").click()
    await expect(alice.get_by_test_id("flash")).to_have_text("rita assigned.")
    await alice.get_by_label("Commander").fill("alice")
    await alice.get_by_role("button", name="Set commander").click()
    await expect(alice.get_by_test_id("flash")).to_have_text("Commander: alice.")
    await alice.get_by_label("Tag", exact=True).fill("Bad Tag!")
    await alice.get_by_role("button", name="Add tag").click()
    await expect(alice.get_by_test_id("flash")).to_contain_text("Refused: tag:")
    await alice.get_by_label("Tag", exact=True).fill("exfiltration")
    await alice.get_by_role("button", name="Add tag").click()
    await alice.get_by_label("Task title").fill("Tell the data protection officer")
    await alice.get_by_label("Task owner").fill("rita")
    await alice.get_by_label("Due in minutes").fill("30")
    await alice.get_by_role("button", name="Add task").click()
    await expect(alice.get_by_test_id("flash")).to_have_text("Task added.")

    # victor, in another session, sees it all arrive without reloading.
    notes = victor.get_by_test_id("notes")
    await expect(notes).to_contain_text(f"Rotated the key {MASKED}", timeout=LIVE)
    await expect(notes).to_contain_text("alice via console")
    await expect(victor.get_by_test_id("assignees")).to_have_text("rita")
    await expect(victor.get_by_test_id("commander")).to_have_text("alice")
    await expect(victor.get_by_test_id("tags")).to_contain_text("exfiltration")
    tasks = victor.get_by_test_id("tasks")
    await expect(tasks).to_contain_text("Tell the data protection officer")
    await expect(tasks).to_contain_text("open")
    assert SECRET not in await victor.content()

    await alice.get_by_role("button", name="Complete Tell the data protection officer").click()
    await expect(alice.get_by_test_id("flash")).to_have_text(re.compile(r"Task \d+ done\."))
    await expect(tasks).to_contain_text("done", timeout=LIVE)
    await expect(victor.get_by_test_id("timeline")).to_contain_text("via console")
    await not_reloaded(victor)
    # What alice is typing survives a refresh that brings someone else's note.
    await alice.get_by_label("New note").fill("still typing")
    async with live_console.as_user("rita") as rita:
        added = await rita.post(f"/api/v1/incidents/{ref}/notes", json={"text": "from rita"})
    assert added.status_code == 201, added.text
    await expect(alice.get_by_test_id("timeline")).to_contain_text("from rita", timeout=LIVE)
    await expect(alice.get_by_label("New note")).to_have_value("still typing")

    # A viewer's post, with the session's own CSRF token, is refused by role.
    csrf = await victor.locator("input[name=csrf_token]").first.get_attribute("value")
    assert csrf
    refused = await victor.request.post(
        f"{live_console.url}/incidents/{ref}/notes",
        form={"text": "not allowed", "csrf_token": csrf},
        max_redirects=0,
    )
    assert refused.status == 403
    assert "adding notes needs the responder role" in await refused.text()
    await alice.close()
    await victor.close()
