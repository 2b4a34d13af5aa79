"""The Slack emulator's read-only view of what it received (the demo points people at it)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from integrations.slack.emulator import DEFAULT_BOT_TOKEN, SlackEmulator


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    server = SlackEmulator()
    server.start()
    yield server
    server.stop()


def test_the_view_lists_channels_and_messages_escaped_and_read_only(
    emulator: SlackEmulator,
) -> None:
    api = httpx.Client(
        base_url=emulator.base_url, headers={"authorization": f"Bearer {DEFAULT_BOT_TOKEN}"}
    )
    channel = api.post("conversations.create", data={"name": "inc-2026-0001-x"}).json()
    channel_id = channel["channel"]["id"]
    posted = api.post(
        "chat.postMessage",
        json={
            "channel": channel_id,
            "text": "card <script>alert(1)</script>",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Severity* high"}}],
        },
    ).json()
    api.post(
        "chat.postMessage",
        json={"channel": channel_id, "text": "step done", "thread_ts": posted["ts"]},
    )
    root = emulator.base_url.removesuffix("api/")

    view = httpx.get(f"{root}messages.json").json()
    [listed] = view["channels"]
    assert (listed["id"], listed["name"]) == (channel_id, "inc-2026-0001-x")
    assert [m["text"] for m in listed["messages"]] == [
        "card <script>alert(1)</script>",
        "step done",
    ]
    assert listed["messages"][1]["thread_ts"] == posted["ts"]

    page = httpx.get(root)
    assert page.status_code == 200
    assert "#inc-2026-0001-x" in page.text and "*Severity* high" in page.text
    assert "<script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert httpx.post(f"{root}messages.json").status_code == 405
    assert httpx.delete(root).status_code == 405
