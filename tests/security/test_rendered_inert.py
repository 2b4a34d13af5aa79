"""SQL, template, HTML/JS and Markdown/mrkdwn injections in alert fields render inert: the
console shows them escaped (and a browser runs none of them even with its CSP switched off),
the reports say them literally in Markdown, HTML and JSON, and Slack gets them escaped."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from markdown_it import MarkdownIt
from playwright.async_api import Browser, Page

from integrations.slack.emulator import SlackEmulator
from tests.console.conftest import PASSWORDS
from tests.console.test_browser import chromium
from tests.engine import Engine
from tests.helpers import eventually
from tests.security import payloads
from tests.security.conftest import console_client, send_hostile
from tests.security.inert import (
    assert_inert_html,
    assert_slack_escaped,
    parse,
    slack_texts,
    slack_unescape,
)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
__all__ = ["chromium"]  # Debian's chromium, as the console's browser tests drive it

# The console's own links and script, and the Temporal UI link of the incident page.
CONSOLE_LINKS = r"^(/|http://(localhost|127\.0\.0\.1):\d+/)"
NOTHING = r"(?!)"  # a report links nowhere and runs nothing


def shown(alert: dict[str, Any]) -> list[str]:
    """The alert's texts the incident page shows."""
    return [alert["title"], *alert["principal"].values(), *alert["target"].values()]


async def test_console_pages_escape_alert_text(engine: Engine) -> None:
    sent, native = await send_hostile(engine)
    refused = await engine.http.post(
        "/api/v1/alerts", json={"source": payloads.HTML[0], "title": " ".join(payloads.ALL)}
    )
    assert refused.status_code == 422
    async with console_client(engine, "alice") as console:
        listing = (await console.get("/")).text
        assert_inert_html(listing, [alert["title"] for alert in sent.values()], CONSOLE_LINKS)
        for payload in payloads.ALL:
            found = await console.get("/", params={"q": payload})
            titles = [a["title"] for a in sent.values() if payload.lower() in a["title"].lower()]
            assert_inert_html(found.text, titles, CONSOLE_LINKS)
            box = [attrs for tag, attrs in parse(found.text)[0] if attrs.get("name") == "q"]
            assert box[0]["value"] == payload  # echoed inside its attribute, not out of it
        for ref, alert in sent.items():
            page = await console.get(f"/incidents/{ref}")
            assert page.status_code == 200
            assert_inert_html(page.text, shown(alert), CONSOLE_LINKS)
            live = await console.get(f"/incidents/{ref}/live")
            assert_inert_html(live.text, [], CONSOLE_LINKS)
        for ref, payload in native.items():
            page = await console.get(f"/incidents/{ref}")
            assert_inert_html(page.text, [payload], CONSOLE_LINKS)
        letters = await console.get("/dead-letters")
        assert_inert_html(letters.text, [payloads.HTML[0]], CONSOLE_LINKS)
        # The raw alert is served as text the browser must not sniff into HTML.
        ref, alert = next(iter(sent.items()))
        detail = (await engine.http.get(f"/api/v1/incidents/{ref}")).json()
        raw = await console.get(f"/incidents/{ref}/alerts/{detail['alerts'][0]['id']}/raw")
        assert raw.headers["content-type"].startswith("text/plain")
        assert raw.headers["x-content-type-options"] == "nosniff"
        assert json.loads(raw.text)["title"] == alert["title"]


async def pwned(page: Page) -> Any:
    """What a payload that ran left behind (`window.__pwned`), or None."""
    await page.wait_for_load_state("load")
    return await page.evaluate("window.__pwned === undefined ? null : window.__pwned")


async def test_no_payload_runs_in_a_browser(engine: Engine, chromium: Browser) -> None:
    sent, native = await send_hostile(engine)
    # The console's CSP would stop inline scripts anyway: switched off here, so the test
    # shows that escaping alone keeps them from running.
    context = await chromium.new_context(bypass_csp=True)
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))

    # The probe works: the same payloads, unescaped, do run.
    await page.set_content("".join(payloads.HTML))
    assert await pwned(page) is not None

    await page.goto(engine.base_url + "/login")
    await page.get_by_label("User name").fill("alice")
    await page.get_by_label("Password").fill(PASSWORDS["alice"])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(engine.base_url + "/")
    assert await pwned(page) is None
    for payload in payloads.HTML:
        await page.goto(engine.base_url + "/?" + urlencode({"q": payload}))
        assert await pwned(page) is None, payload
    for ref in [*sent, *native]:
        await page.goto(f"{engine.base_url}/incidents/{ref}")
        await page.wait_for_timeout(200)  # images fail (and would fire onerror) asynchronously
        assert await pwned(page) is None, ref
        report = await engine.http.get(f"/api/v1/incidents/{ref}/report", params={"format": "html"})
        await page.set_content(report.text)
        await page.wait_for_timeout(200)
        assert await pwned(page) is None, ref
    assert dialogs == []
    await context.close()


async def test_reports_say_alert_text_literally(engine: Engine) -> None:
    sent, _ = await send_hostile(engine)
    markdown = MarkdownIt("commonmark", {"html": True}).enable("table")
    for ref, alert in sent.items():

        async def report(fmt: str, ref: str = ref) -> str:
            response = await engine.http.get(
                f"/api/v1/incidents/{ref}/report", params={"format": fmt}
            )
            assert response.status_code == 200, response.text
            return response.text

        as_json = json.loads(await report("json"))
        assert as_json["title"] == alert["title"]
        assert as_json["principal"] == alert["principal"]
        assert as_json["target"] == alert["target"]
        html = await report("html")
        assert_inert_html(html, shown(alert), NOTHING)
        md = await report("md")
        assert_inert_html(markdown.render(md), shown(alert), NOTHING)
        for text in (html, md, json.dumps(as_json)):
            assert "<Config" not in text  # `{{ config }}` was not evaluated


async def test_slack_gets_alert_text_escaped(engine: Engine, slack_emulator: SlackEmulator) -> None:
    mark = slack_emulator.mark()
    sent, native = await send_hostile(engine)

    def posted() -> list[Any]:
        return [
            r
            for r in slack_emulator.since(mark)
            if r.method in {"chat.postMessage", "chat.update", "conversations.setTopic"}
        ]

    async def every_card() -> list[Any] | None:
        found = posted()
        texts = " ".join(slack_unescape(t) for r in found for t in slack_texts(r.params))
        return found if all(ref in texts for ref in [*sent, *native]) else None

    calls = await eventually(every_card, within=60)
    everything = []
    for call in calls:
        for text in slack_texts(call.params):
            assert_slack_escaped(text)
            everything.append(slack_unescape(text))
    said = "\n".join(everything)
    for alert in sent.values():
        assert alert["title"] in said
    for mention in ("<!channel>", "<!here>", "<!everyone>"):
        assert mention not in " ".join(t for c in calls for t in slack_texts(c.params))
