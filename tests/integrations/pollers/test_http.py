"""HTTP cursor poller against a real local HTTP server, store, Temporal and worker."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from integrations.pollers.runner import run_poller
from smokejumper.store.cursors import load_cursor
from tests.integrations.pollers.conftest import Harness

TOKEN = "poller-token-5f1c0a9e7b3d"


@dataclass
class Feed:
    """Pages by cursor ("" is the first page): (items, next cursor)."""

    pages: dict[str, tuple[list[Any], str | None]] = field(default_factory=dict)
    failures: int = 0
    requests: list[tuple[str | None, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def serve(feed: Feed) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            cursor = query.get("after", [None])[0]
            with feed.lock:
                feed.requests.append((cursor, self.headers.get("authorization")))
                failing = feed.failures > 0
                feed.failures -= 1 if failing else 0
                items, next_cursor = feed.pages.get(cursor or "", ([], None))
            if failing:
                self.send_error(500)
                return
            body = json.dumps({"events": items, "more": next_cursor}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/events?limit=2"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def feed() -> Feed:
    return Feed()


@pytest.fixture
def url(feed: Feed) -> Iterator[str]:
    yield from serve(feed)


def event(harness: Harness, title: str) -> dict[str, Any]:
    return {
        "source": "generic",
        "kind": "data_leakage",
        "severity": "medium",
        "title": title,
        "principal": {"user": f"user-{harness.tag}"},
    }


def poller_config(url: str) -> dict[str, Any]:
    return {
        "kind": "http",
        "name": "feed",
        "source": "generic",
        "url": url,
        "cursor_param": "after",
        "items_field": "events",
        "cursor_field": "more",
        "token": "env:FEED_TOKEN",
        "timeout_seconds": 2,
    }


async def test_pages_are_followed_with_the_cursor_and_the_bearer_token(
    harness: Harness,
    feed: Feed,
    url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FEED_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    feed.pages = {
        "": ([event(harness, "a"), event(harness, "b")], "c1"),
        "c1": ([event(harness, "c"), {"kind": "not-an-alert"}], "c2"),
        "c2": ([], "c2"),
    }
    scheduler = await harness.scheduler([poller_config(url)])

    counts = await scheduler.run_poller("feed")

    assert (counts.accepted, counts.dead_lettered) == (3, 1)
    assert harness.titles() == ["a", "b", "c"]
    assert [cursor for cursor, _ in feed.requests] == [None, "c1", "c2"]
    assert {auth for _, auth in feed.requests} == {f"Bearer {TOKEN}"}
    assert load_cursor(harness.store, "feed") == {"cursor": "c2", "done": 0}
    (letter,) = harness.dead_letters()
    assert letter.endpoint == "poller:feed"
    assert json.loads(letter.raw_body) == {"kind": "not-an-alert"}

    # New events after the stored cursor; the old pages are not asked for again.
    feed.requests.clear()
    feed.pages["c2"] = ([event(harness, "d")], "c3")
    assert (await scheduler.run_poller("feed")).accepted == 1
    assert [cursor for cursor, _ in feed.requests] == ["c2", "c3"]
    assert harness.titles() == ["a", "b", "c", "d"]
    assert TOKEN not in caplog.text


async def test_a_server_error_leaves_the_cursor_and_the_next_run_succeeds(
    harness: Harness,
    feed: Feed,
    url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FEED_TOKEN", TOKEN)
    feed.pages = {"": ([event(harness, "a")], "c1"), "c1": ([], None)}
    scheduler = await harness.scheduler([poller_config(url)])
    assert (await scheduler.run_poller("feed")).accepted == 1
    before = load_cursor(harness.store, "feed")

    feed.pages["c1"] = ([event(harness, "b")], None)
    feed.failures = 1
    assert not await scheduler.run_poller("feed")
    assert load_cursor(harness.store, "feed") == before == {"cursor": "c1", "done": 0}
    assert "endpoint answered HTTP 500; retrying next run" in caplog.text

    assert (await scheduler.run_poller("feed")).accepted == 1
    assert harness.titles() == ["a", "b"]
    # No next cursor: the page is re-read next time and only its new events are taken.
    assert load_cursor(harness.store, "feed") == {"cursor": "c1", "done": 1}
    feed.pages["c1"] = ([event(harness, "b"), event(harness, "c")], None)
    assert (await scheduler.run_poller("feed")).accepted == 1
    assert harness.titles() == ["a", "b", "c"]
    assert TOKEN not in caplog.text


async def test_an_unreachable_endpoint_is_retried_next_run(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    feed = Feed(pages={"": ([event(harness, "a")], None)})
    serving = serve(feed)
    url = next(serving)
    config = {**poller_config(url), "token": None}
    scheduler = await harness.scheduler([config])
    serving.close()  # the server is gone

    assert not await scheduler.run_poller("feed")
    assert "request failed (ConnectError)" in caplog.text
    assert load_cursor(harness.store, "feed") == {}


async def test_a_run_stopped_mid_page_resumes_after_the_last_event(
    harness: Harness, feed: Feed, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEED_TOKEN", TOKEN)
    feed.pages = {"": ([event(harness, t) for t in "abc"], "c1"), "c1": ([], None)}
    scheduler = await harness.scheduler([poller_config(url)])
    poller = scheduler.pollers["feed"]
    budget = iter([True, True, False])

    stopped = await run_poller(poller, harness.store, scheduler.intake, lambda: next(budget))
    assert stopped.accepted == 2
    assert load_cursor(harness.store, "feed") == {"cursor": None, "done": 2}

    assert (await run_poller(poller, harness.store, scheduler.intake)).accepted == 1
    assert harness.titles() == ["a", "b", "c"]
    assert load_cursor(harness.store, "feed") == {"cursor": "c1", "done": 0}
