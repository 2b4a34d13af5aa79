"""The console in a real browser (Debian's chromium driven by Playwright) against a running
engine: a responder approves a step and watches the playbook move on; a viewer is refused."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.console.conftest import PASSWORDS, Console

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest_asyncio.fixture
async def chromium() -> AsyncIterator[Browser]:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Debian's chromium is required for the browser tests; `make test` installs it "
            "(apt-get install chromium)",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def signed_in(browser: Browser, console: Console, name: str) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    await page.goto(console.url + "/")
    await expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(PASSWORDS[name])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("user")).to_contain_text(name)
    return page


async def test_responder_approves_and_the_playbook_moves_on(
    console: Console, chromium: Browser
) -> None:
    ref = await console.open_incident()
    page = await signed_in(chromium, console, "alice")
    await page.get_by_role("link", name=ref).click()
    await expect(page).to_have_url(re.compile(f"/incidents/{ref}$"))
    approval = page.get_by_test_id("approval-isolate")
    await expect(approval).to_contain_text("Take the support endpoint offline?")
    await expect(page.get_by_text("[REDACTED:aws_access_key_id]")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "incident-page.png", full_page=True)

    await approval.get_by_label("Reason").fill("exfiltration confirmed")
    await approval.get_by_role("button", name="Approve").click()
    await expect(page.get_by_test_id("flash")).to_have_text("Step isolate approved.")
    # The playbook carries on: the page's live refresh shows the step after the approval.
    timeline = page.get_by_test_id("timeline")
    await expect(timeline).to_contain_text("Endpoint isolated", timeout=30_000)
    await expect(timeline).to_contain_text("alice approved isolate via console")
    await expect(page.get_by_test_id("approval-isolate")).to_have_count(0)

    # The vote is in the audit log as alice, and the chain verifies.
    await page.get_by_role("link", name="Audit log").click()
    await page.get_by_role("button", name="Verify the chain").click()
    await expect(page.get_by_test_id("verify-result")).to_contain_text("Chain intact")
    await expect(page.locator("table.list")).to_contain_text("approval.approved")
    await page.close()


async def test_viewer_sees_the_incident_but_is_refused(console: Console, chromium: Browser) -> None:
    ref = await console.open_incident()
    page = await signed_in(chromium, console, "victor")
    await page.goto(f"{console.url}/incidents/{ref}")
    await expect(page.get_by_test_id("viewer-note")).to_have_text(
        "Viewers cannot decide approvals."
    )
    await expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    await expect(page.get_by_test_id("raw-evidence")).to_have_count(0)

    # Posting the form anyway, with the session's own CSRF token, is refused by role.
    csrf = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert csrf
    refused = await page.request.post(
        f"{console.url}/incidents/{ref}/approvals/isolate",
        form={"decision": "approve", "csrf_token": csrf},
        max_redirects=0,
    )
    assert refused.status == 403
    assert "deciding approvals needs the responder role" in await refused.text()

    evidence = (await console.engine.http.get(f"/api/v1/incidents/{ref}/evidence")).json()
    await page.goto(f"{console.url}/incidents/{ref}/evidence/{evidence[0]['id']}/raw")
    await expect(page.get_by_test_id("error")).to_contain_text("raw evidence needs the responder")
    live = (await console.engine.http.get(f"/api/v1/incidents/{ref}")).json()["live"]
    assert live["pending_approvals"] == ["isolate"]
    await page.close()
