"""Console sign-in throttling: after 5 failures in 5 minutes for an account, or from a client
address, the console answers 429 with Retry-After (without checking the password), the
lockout is in the audit log once, and it lifts when the window has passed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from smokejumper.console import routes
from smokejumper.console.context import CSRF_FIELD
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.tables import AuditEntry
from tests.console.conftest import PASSWORDS, add_users, asgi_client
from tests.helpers import make_settings

WINDOW = timedelta(minutes=5)

Client = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def console_from(tmp_path: Path, database_url: str, migrated_store: Store) -> Client:
    """A console client calling from a given address, with the default limits: 5 failures
    in 5 minutes, wide enough that a slow machine cannot let it lapse mid-test."""
    settings = make_settings(tmp_path, database_url, "127.0.0.1:1")
    add_users(migrated_store)

    @asynccontextmanager
    async def client(address: str) -> AsyncIterator[httpx.AsyncClient]:
        async with asgi_client(settings, migrated_store, address) as http:
            yield http

    return client


async def sign_in(http: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    form = await http.get("/login")
    token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', form.text)
    assert token is not None, form.text
    return await http.post(
        "/login", data={CSRF_FIELD: token.group(1), "username": name, "password": password}
    )


def entries(store: Store, action: str) -> list[tuple[str, Any]]:
    with store.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [(row.subject, row.data["address"]) for row in rows]


def assert_locked(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert 0 < int(response.headers["retry-after"]) <= WINDOW.total_seconds()
    assert "Too many failed sign-ins" in response.text


class _Later(datetime):
    """The console's clock, one window and a second after now."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _Later:
        later = datetime.now(tz) + WINDOW + timedelta(seconds=1)
        return cls.fromtimestamp(later.timestamp(), tz)


async def test_failures_lock_the_account_from_anywhere_then_lift(
    console_from: Client, migrated_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with console_from("198.51.100.1") as first, console_from("198.51.100.2") as second:
        for _ in range(5):
            assert (await sign_in(first, "alice", "guess")).status_code == 401
        # The right password no longer helps: it is not even checked.
        assert_locked(await sign_in(first, "alice", PASSWORDS["alice"]))
        assert_locked(await sign_in(first, "alice", "guess"))
        assert_locked(await sign_in(second, "alice", PASSWORDS["alice"]))
        # Other accounts, from another address, are not affected.
        assert (await sign_in(second, "rita", PASSWORDS["rita"])).status_code == 303

        assert entries(migrated_store, "console.sign_in_failed") == [("alice", "198.51.100.1")] * 5
        assert sorted(entries(migrated_store, "console.sign_in_throttled")) == [
            ("alice", "198.51.100.1"),
            ("alice", "198.51.100.2"),
        ]

        # The console's clock moves past the window instead of the test waiting 5 minutes.
        monkeypatch.setattr(routes, "datetime", _Later)
        assert (await sign_in(first, "alice", PASSWORDS["alice"])).status_code == 303
    assert audit.verify(migrated_store)[1] == []


async def test_an_address_is_limited_across_accounts(console_from: Client) -> None:
    async with console_from("203.0.113.7") as guesser, console_from("203.0.113.8") as other:
        for name in ("alice", "rita", "victor", "nobody", "root"):
            assert (await sign_in(guesser, name, "guess")).status_code == 401
        assert_locked(await sign_in(guesser, "victor", PASSWORDS["victor"]))
        assert (await sign_in(other, "victor", PASSWORDS["victor"])).status_code == 303


async def test_a_successful_sign_in_clears_its_account_only(console_from: Client) -> None:
    async with (
        console_from("192.0.2.21") as first,
        console_from("192.0.2.22") as second,
        console_from("192.0.2.23") as third,
    ):
        for _ in range(4):
            assert (await sign_in(first, "rita", "guess")).status_code == 401
        assert (await sign_in(second, "rita", PASSWORDS["rita"])).status_code == 303
        for _ in range(4):
            assert (await sign_in(third, "rita", "guess")).status_code == 401
        # The address that made 4 failures is one failure from its own limit.
        assert (await sign_in(first, "victor", "guess")).status_code == 401
        assert_locked(await sign_in(first, "victor", PASSWORDS["victor"]))


async def test_a_name_that_is_no_account_is_not_kept(
    console_from: Client, migrated_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A password typed into the user name field must not land in the audit log or the log;
    failures for that same unknown name still count together."""
    typed = "Tr0ub4dor&3-typed-in-the-wrong-field"
    async with console_from("198.51.100.9") as http:
        for _ in range(5):
            assert (await sign_in(http, typed, "guess")).status_code == 401
        assert_locked(await sign_in(http, typed, "guess"))
    [(subject, address)] = set(entries(migrated_store, "console.sign_in_failed"))
    assert subject.startswith("unknown-account:")
    assert address == "198.51.100.9"
    with migrated_store.session() as session:
        kept = " ".join(f"{row.subject} {row.data}" for row in session.scalars(select(AuditEntry)))
    assert typed not in kept
    assert typed not in caplog.text
