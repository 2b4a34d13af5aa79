"""Single sign-on claims the provider passes on unchecked — an e-mail typed by its user,
group names synced from elsewhere — with a NUL or of any length, on PostgreSQL (which
refuses both in its JSON and bounded columns): a clear page and an audit row, never a
500 that loses the record of who tried."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from smokejumper.config import Settings
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from tests.conftest import TEST_AUDIT_SEAL
from tests.console.conftest import asgi_client
from tests.console.oidc_provider import set_user
from tests.console.test_oidc import audit_rows, badge, sign_in, sso_settings
from tests.console.test_oidc import issuer as issuer

LONG_EMAIL = "x" * 400 + "@example.com"


@pytest.fixture
def pg_settings(tmp_path: Path, postgres_url: str, issuer: str) -> Settings:
    upgrade(postgres_url)
    return sso_settings(tmp_path, postgres_url, issuer)


@pytest.fixture
def pg_store(pg_settings: Settings) -> Iterator[Store]:
    store = Store(pg_settings.database_url, audit=TEST_AUDIT_SEAL)
    yield store
    store.dispose()


async def test_hostile_claims_sign_in_or_are_refused_on_the_record(
    pg_settings: Settings, pg_store: Store, issuer: str
) -> None:
    # No usable name, and an e-mail longer than any audit subject.
    await set_user(issuer, "sub-longmail", email=LONG_EMAIL, groups=["sj-responders"])
    # A NUL in the e-mail and in a group name, otherwise a good responder.
    await set_user(
        issuer,
        "sub-nul",
        preferred_username="nuala",
        email="nuala\x00@example.com",
        groups=["sj-responders", "ops\x00team"],
    )
    async with asgi_client(pg_settings, pg_store) as client:
        refused = await sign_in(client, "sub-longmail")
        assert refused.status_code == 403, refused.text
        assert "preferred_username" in refused.text
    async with asgi_client(pg_settings, pg_store) as client:
        arrived = await sign_in(client, "sub-nul")
        assert arrived.status_code == 303, arrived.text
        assert await badge(client) == ("nuala", "responder")

    (row,) = audit_rows(pg_store, "console.sign_in_refused")
    assert row.data["sub"] == "sub-longmail" and row.data["email"] == LONG_EMAIL
    assert len(row.subject) <= 300 and len(row.actor) <= 200
    (signed,) = audit_rows(pg_store, "console.sign_in")
    assert signed.actor == "nuala"
    assert "\x00" not in json.dumps(signed.data) and "\\u0000" not in json.dumps(signed.data)
    assert signed.data["groups"] == ["sj-responders", "ops\ufffdteam"]


async def test_a_crafted_callback_cannot_speak_as_the_provider(
    pg_settings: Settings, pg_store: Store
) -> None:
    """A link to the callback with the attacker's own `error` text, sent to someone who
    started no sign-in (or another one): the page does not repeat it."""
    words = "Your account is locked. Call the helpdesk on +1 555 0100"
    async with asgi_client(pg_settings, pg_store) as client:
        crafted = await client.get("/login/oidc/callback", params={"error": words})
        assert crafted.status_code == 400
        assert "Call the helpdesk" not in crafted.text
        assert "started in another browser" in crafted.text
        await client.get("/login/oidc")  # a sign-in of this browser's own is under way
        forged = await client.get("/login/oidc/callback", params={"error": words, "state": "x"})
        assert forged.status_code == 400 and "Call the helpdesk" not in forged.text
        await client.get("/login/oidc")
        stateless = await client.get("/login/oidc/callback", params={"error": words})
        assert stateless.status_code == 403 and "Call the helpdesk" not in stateless.text
        assert "refused the sign-in: an error it did not name." in stateless.text
