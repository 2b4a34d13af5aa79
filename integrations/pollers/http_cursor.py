"""HTTP with a cursor: GET `url?<cursor_param>=<cursor>` returns
`{"<items_field>": [event, ...], "<cursor_field>": "<next cursor>"}`.

Cursor: `{"cursor": <cursor the page was fetched with, or null>, "done": <events of that page
handled>}`. After a page's last event the cursor moves to the page's next cursor, so a crash
mid-page resumes after the last event handled (the endpoint must return the same page for the
same cursor). Pages are followed until an empty page or no new cursor. A failed request or an
unreadable body is logged and ends the run; the cursor stays, and the next run retries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from integrations.pollers.base import Checkpoint, Cursor, Item, Record
from integrations.sources.base import Normalizer

log = logging.getLogger(__name__)

MAX_ITEMS_PER_RUN = 1000
# Guards against an endpoint that hands out cursors forever.
MAX_PAGES_PER_RUN = 100


@dataclass(frozen=True)
class _Page:
    items: list[Any]
    next_cursor: str | None


class PageError(Exception):
    pass


class HttpCursorPoller:
    def __init__(
        self,
        *,
        name: str,
        source: str,
        normalizer: Normalizer,
        url: str,
        interval_seconds: float,
        cursor_param: str = "cursor",
        items_field: str = "items",
        cursor_field: str = "next_cursor",
        token: SecretStr | None = None,
        timeout_seconds: float = 10.0,
        max_items: int = MAX_ITEMS_PER_RUN,
    ) -> None:
        self.name = name
        self.source = source
        self.normalizer = normalizer
        self.url = url
        self.interval_seconds = interval_seconds
        self.cursor_param = cursor_param
        self.items_field = items_field
        self.cursor_field = cursor_field
        self._token = token
        self.timeout_seconds = timeout_seconds
        self.max_items = max_items

    def _headers(self) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if self._token is not None:
            headers["authorization"] = f"Bearer {self._token.get_secret_value()}"
        return headers

    async def poll(self, cursor: Cursor) -> AsyncGenerator[Record, None]:
        current: str | None = cursor.get("cursor")
        done: int = cursor.get("done", 0)
        budget = self.max_items
        async with httpx.AsyncClient(
            headers=self._headers(), timeout=self.timeout_seconds, follow_redirects=False
        ) as client:
            for _ in range(MAX_PAGES_PER_RUN):
                try:
                    page = await self._fetch(client, current)
                except PageError as exc:
                    # The reason never includes headers: the token stays out of the logs.
                    log.warning("poller %s: %s; retrying next run", self.name, exc)
                    return
                fresh = page.items[done:]
                advance = page.next_cursor is not None and page.next_cursor != current
                for index, item in enumerate(fresh):
                    if budget <= 0:
                        return
                    budget -= 1
                    if advance and index == len(fresh) - 1:
                        after: Cursor = {"cursor": page.next_cursor, "done": 0}
                    else:
                        after = {"cursor": current, "done": done + index + 1}
                    yield Item(raw=_raw(item), payload=item, parsed=True, cursor=after)
                if not advance:
                    return
                if not fresh:
                    yield Checkpoint({"cursor": page.next_cursor, "done": 0})
                if not page.items:
                    return
                current, done = page.next_cursor, 0

    async def _fetch(self, client: httpx.AsyncClient, cursor: str | None) -> _Page:
        params = {self.cursor_param: cursor} if cursor is not None else None
        try:
            response = await client.get(self.url, params=params)
        except httpx.HTTPError as exc:
            raise PageError(f"request failed ({type(exc).__name__})") from None
        if not response.is_success:
            raise PageError(f"endpoint answered HTTP {response.status_code}")
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            # A page too deep to parse is one more unreadable page; an item nested too
            # deeply in a page that parses is refused on its own (the runner's check).
            raise PageError("response body is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get(self.items_field), list):
            raise PageError(f"response has no {self.items_field!r} array")
        next_cursor = body.get(self.cursor_field)
        if isinstance(next_cursor, int) and not isinstance(next_cursor, bool):
            next_cursor = str(next_cursor)
        if next_cursor is not None and not isinstance(next_cursor, str):
            raise PageError(f"response field {self.cursor_field!r} is not a string")
        return _Page(items=body[self.items_field], next_cursor=next_cursor or None)


def _raw(item: Any) -> str:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))
