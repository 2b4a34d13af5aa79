"""Signing out of the console revokes the session on the server: a copy of the old cookie
no longer signs anyone in, while the user's other sessions carry on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from smokejumper.config import Settings, load_settings
from smokejumper.security.sessions import COOKIE
from smokejumper.security.users import Role, add_user
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.tables import RevokedSession
from tests.conftest import TEST_AUDIT_SEAL
from tests.console.conftest import asgi_client
from tests.console.test_access import csrf_of

PASSWORD = "alice-password-1"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    upgrade(database_url)
    return load_settings(None, data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def store(settings: Settings, database_url: str) -> Iterator[Store]:
    store = Store(database_url, audit=TEST_AUDIT_SEAL)
    with store.transaction() as session:
        add_user(session, "alice", Role.RESPONDER, PASSWORD)
    yield store
    store.dispose()


async def signed_in(client: httpx.AsyncClient) -> str:
    """Sign alice in through the form; returns her session cookie."""
    form = await client.get("/login")
    answer = await client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(form)},
    )
    assert answer.status_code == 303, answer.text
    cookie = client.cookies.get(COOKIE)
    assert cookie
    return cookie


async def who(settings: Settings, store: Store, cookie: str) -> str | None:
    """Who the console says is signed in with `cookie` alone (None: sent to sign in)."""
    async with asgi_client(settings, store) as client:
        client.cookies.set(COOKIE, cookie)
        page = await client.get("/audit")
    if page.status_code in (302, 303, 307) and "/login" in page.headers["location"]:
        return None
    assert page.status_code == 200, page.text
    return "alice" if "alice" in page.text else "?"


async def test_the_old_cookie_is_worthless_after_sign_out(settings: Settings, store: Store) -> None:
    async with asgi_client(settings, store) as laptop, asgi_client(settings, store) as phone:
        cookie = await signed_in(laptop)
        other = await signed_in(phone)
        assert await who(settings, store, cookie) == "alice"

        csrf = csrf_of(await laptop.get("/"))
        out = await laptop.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        assert out.headers["location"] == "/login"

        # A copy of the cookie taken before sign-out is still validly signed, but revoked.
        assert await who(settings, store, cookie) is None
        # Her session on the other device is another session, still signed in.
        assert await who(settings, store, other) == "alice"
        # The laptop can sign in again, with a new session.
        again = await signed_in(laptop)
        assert again != cookie
        assert await who(settings, store, again) == "alice"
    with store.session() as session:
        # Only a hash of the session id is kept.
        [digest] = session.scalars(select(RevokedSession.sid_sha256)).all()
        assert len(digest) == 64
