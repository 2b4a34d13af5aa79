"""Single sign-on through a real OpenID Connect provider process: signing in through its
authorize page, roles from groups, a refused group, signing out here and there, and the
hostile cases (wrong state, a replayed code, a tampered or misdirected ID token, a
missing claim, the provider down)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from smokejumper.config import ConfigError, Settings, load_settings
from smokejumper.console.oidc import PENDING_COOKIE, Provider, SignInFailed
from smokejumper.security.sessions import COOKIE
from smokejumper.security.users import Role, add_user, get_user
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.tables import AuditEntry
from tests.conftest import TEST_AUDIT_SEAL
from tests.console.conftest import asgi_client
from tests.console.oidc_provider import authorize, oidc_provider, set_user
from tests.console.test_access import csrf_of
from tests.helpers import free_port

CLIENT_ID = "smokejumper-console"
CLIENT_SECRET = "oidc-client-secret-for-tests"
GROUPS = {"sj-admins": "admin", "sj-responders": "responder", "sj-viewers": "viewer"}
USER = re.compile(r'data-testid="user">([^ ]+) <small class="role role-(\w+)"')


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with oidc_provider(tmp_path_factory.mktemp("oidc")) as url:
        yield url


def sso_settings(tmp_path: Path, database_url: str, issuer: str, **oidc: Any) -> Settings:
    return load_settings(
        None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        console={
            "oidc": {
                "name": "Example SSO",
                "issuer": issuer,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "group_roles": GROUPS,
                "redirect_base_url": "http://console",
                **oidc,
            }
        },
    )


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str, issuer: str) -> Settings:
    upgrade(sqlite_url)
    return sso_settings(tmp_path, sqlite_url, issuer)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = Store(settings.database_url, audit=TEST_AUDIT_SEAL)
    yield store
    store.dispose()


async def start(client: httpx.AsyncClient, next_path: str = "/") -> str:
    """Press 'Sign in with Example SSO'; the provider's authorize URL it leads to."""
    login = await client.get("/login")
    assert "Sign in with Example SSO" in login.text
    assert "Wrong" not in login.text and 'name="password"' in login.text  # local form stays
    sent = await client.get("/login/oidc", params={"next": next_path})
    assert sent.status_code == 303, sent.text
    return sent.headers["location"]


async def back(client: httpx.AsyncClient, callback_url: str) -> httpx.Response:
    """The browser arriving back from the provider at the console's callback."""
    parts = urlsplit(callback_url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://console"
    return await client.get(f"{parts.path}?{parts.query}")


async def sign_in(client: httpx.AsyncClient, sub: str, next_path: str = "/") -> httpx.Response:
    return await back(client, await authorize(await start(client, next_path), sub))


async def badge(client: httpx.AsyncClient) -> tuple[str, str] | None:
    """(name, role) the console shows as signed in; None when it asks to sign in."""
    page = await client.get("/audit")
    if page.status_code == 303:
        assert page.headers["location"].startswith("/login")
        return None
    assert page.status_code == 200, page.text
    found = USER.search(page.text)
    assert found, page.text[:500]
    return found.group(1), found.group(2)


def audit_rows(store: Store, action: str) -> list[AuditEntry]:
    with store.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_sign_in_through_the_provider_takes_the_role_from_groups(
    settings: Settings, store: Store, issuer: str
) -> None:
    people = {
        "sub-ada": ("ada", ["staff", "sj-admins"], "admin"),
        "sub-rui": ("rui", ["sj-viewers", "sj-responders"], "responder"),  # highest wins
        "sub-vic": ("vic", ["sj-viewers"], "viewer"),
    }
    for sub, (name, groups, _) in people.items():
        await set_user(
            issuer, sub, preferred_username=name, email=f"{name}@example.com", groups=groups
        )
    async with asgi_client(settings, store) as client:
        url = await start(client, "/audit")
        query = parse_qs(urlsplit(url).query)
        assert url.startswith(f"{issuer}/oauth2/authorize?")
        assert query["client_id"] == [CLIENT_ID]
        assert query["redirect_uri"] == ["http://console/login/oidc/callback"]
        assert query["code_challenge_method"] == ["S256"]
        assert len(query["code_challenge"][0]) == 43
        assert query["state"][0] and query["nonce"][0]
        assert set(query["scope"][0].split()) == {"openid", "email", "profile"}

        # Straight back to the page asked for, signed in with a fresh session.
        before = client.cookies.get(COOKIE)
        arrived = await back(client, await authorize(url, "sub-ada"))
        assert arrived.status_code == 303, arrived.text
        assert arrived.headers["location"] == "/audit"
        assert client.cookies.get(COOKIE) != before
        assert await badge(client) == ("ada", "admin")

    for sub, (name, _, role) in list(people.items())[1:]:
        async with asgi_client(settings, store) as client:
            assert (await sign_in(client, sub)).status_code == 303
            assert await badge(client) == (name, role)
            if role == "viewer":
                # The role is enforced, not only shown.
                csrf = csrf_of(await client.get("/playbooks"))
                refused = await client.post(
                    "/playbooks/anything/dry-run", data={"alert": "{}", "csrf_token": csrf}
                )
                assert refused.status_code == 403
                assert "vic is a viewer" in refused.text

    rows = audit_rows(store, "console.sign_in")
    assert [(r.actor, r.data["role"]) for r in rows] == [
        ("ada", "admin"),
        ("rui", "responder"),
        ("vic", "viewer"),
    ]
    assert rows[0].data["sub"] == "sub-ada"
    assert rows[0].data["email"] == "ada@example.com"
    assert rows[0].data["issuer"] == issuer
    assert rows[0].data["method"] == "oidc"
    # Nothing token-like is kept: no JWT, no code.
    assert "eyJ" not in json.dumps([r.data for r in rows])


async def test_a_user_whose_groups_map_to_no_role_is_refused(
    settings: Settings, store: Store, issuer: str, caplog: pytest.LogCaptureFixture
) -> None:
    await set_user(
        issuer,
        "sub-mallory",
        preferred_username="mallory",
        email="m@example.com",
        groups=["marketing"],
    )
    async with asgi_client(settings, store) as client:
        url = await start(client)
        callback = await authorize(url, "sub-mallory")
        refused = await back(client, callback)
        assert refused.status_code == 403
        assert "no role: none of the user" in refused.text
        assert "Traceback" not in refused.text
        assert await badge(client) is None
    (row,) = audit_rows(store, "console.sign_in_refused")
    assert row.actor == "mallory"
    assert row.data["groups"] == ["marketing"]
    assert row.data["sub"] == "sub-mallory"
    code = parse_qs(urlsplit(callback).query)["code"][0]
    assert code not in json.dumps(row.data) and code not in caplog.text
    assert CLIENT_SECRET not in caplog.text
    assert "refused for mallory" in caplog.text
    assert audit_rows(store, "console.sign_in") == []


async def test_default_role_and_role_claim(tmp_path: Path, sqlite_url: str, issuer: str) -> None:
    upgrade(sqlite_url)
    settings = sso_settings(
        tmp_path,
        sqlite_url,
        issuer,
        role_claim="smokejumper_role",
        default_role="viewer",
    )
    store = Store(sqlite_url, audit=TEST_AUDIT_SEAL)
    await set_user(issuer, "sub-nina", preferred_username="nina", groups=["marketing"])
    await set_user(issuer, "sub-omar", preferred_username="omar", smokejumper_role="admin")
    try:
        for sub, expected in (("sub-nina", ("nina", "viewer")), ("sub-omar", ("omar", "admin"))):
            async with asgi_client(settings, store) as client:
                assert (await sign_in(client, sub)).status_code == 303
                assert await badge(client) == expected
    finally:
        store.dispose()


async def test_sign_out_ends_the_session_here_and_at_the_provider(
    settings: Settings, store: Store, issuer: str
) -> None:
    await set_user(issuer, "sub-sam", preferred_username="sam", groups=["sj-responders"])
    async with asgi_client(settings, store) as client:
        assert (await sign_in(client, "sub-sam")).status_code == 303
        cookie = client.cookies.get(COOKIE)
        assert cookie
        page = await client.get("/")
        # Browsers hold the redirect after the sign-out form to form-action: it names the
        # provider.
        assert f"form-action 'self' {issuer};" in page.headers["content-security-policy"]
        csrf = csrf_of(page)
        out = await client.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        end = out.headers["location"]
        assert end.startswith(f"{issuer}/oauth2/end_session?")
        assert parse_qs(urlsplit(end).query) == {
            "client_id": [CLIENT_ID],
            "post_logout_redirect_uri": ["http://console/login"],
        }
        assert await badge(client) is None
    # The provider's own sign-out page, and its way back to the console.
    async with httpx.AsyncClient() as browser:
        ending = await browser.get(end)
        assert ending.status_code == 200
        confirmed = await browser.post(
            f"{issuer}/oauth2/end_session/confirm", data={"redirect_uri": "http://console/login"}
        )
    assert confirmed.headers["location"] == "http://console/login"
    # A copy of the cookie from before signing out is worth nothing.
    async with asgi_client(settings, store) as other:
        other.cookies.set(COOKIE, cookie)
        assert await badge(other) is None
    assert [r.actor for r in audit_rows(store, "console.sign_out")] == ["sam"]


async def test_disabling_the_account_of_that_name_ends_single_sign_on(
    settings: Settings, store: Store, issuer: str
) -> None:
    with store.transaction() as session:
        add_user(session, "dora", Role.VIEWER, None)
    await set_user(issuer, "sub-dora", preferred_username="dora", groups=["sj-admins"])
    async with asgi_client(settings, store) as client:
        assert (await sign_in(client, "sub-dora")).status_code == 303
        # The provider's groups decide the role, not the local account's.
        assert await badge(client) == ("dora", "admin")
        with store.transaction() as session:
            get_user(session, "dora").disabled = True
        assert await badge(client) is None
        refused = await sign_in(client, "sub-dora")
        assert refused.status_code == 403
        assert "&#39;dora&#39; is disabled" in refused.text


# --- hostile ---------------------------------------------------------------------------


async def test_a_wrong_or_missing_state_is_refused(
    settings: Settings, store: Store, issuer: str
) -> None:
    await set_user(issuer, "sub-eve", preferred_username="eve", groups=["sj-admins"])
    async with asgi_client(settings, store) as client:
        callback = await authorize(await start(client), "sub-eve")
        forged = re.sub(r"state=[^&]+", "state=forged", callback)
        refused = await back(client, forged)
        assert refused.status_code == 400
        assert "state does not match" in refused.text
        assert await badge(client) is None
    # Another browser (the attacker's callback link, without the pending sign-in).
    async with asgi_client(settings, store) as victim:
        callback = await authorize(await start(victim), "sub-eve")
    async with asgi_client(settings, store) as other:
        refused = await back(other, callback)
        assert refused.status_code == 400
        assert "expired or was started in another browser" in refused.text
        assert await badge(other) is None


async def test_the_providers_own_refusal_is_shown(
    settings: Settings, store: Store, issuer: str
) -> None:
    async with asgi_client(settings, store) as client:
        url = await start(client)
        async with httpx.AsyncClient() as browser:
            denied = await browser.post(url, data={"action": "deny"})
        assert denied.status_code in (302, 303)
        refused = await back(client, denied.headers["location"])
        assert refused.status_code == 403
        assert "Example SSO refused the sign-in: access_denied." in refused.text
        assert await badge(client) is None


async def test_a_replayed_code_is_refused(settings: Settings, store: Store, issuer: str) -> None:
    await set_user(issuer, "sub-ray", preferred_username="ray", groups=["sj-viewers"])
    async with asgi_client(settings, store) as client:
        url = await start(client)
        pending = client.cookies.get(PENDING_COOKIE)
        callback = await authorize(url, "sub-ray")
        assert (await back(client, callback)).status_code == 303
    async with asgi_client(settings, store) as thief:
        # Even holding the pending-sign-in cookie, the code works once only.
        thief.cookies.set(PENDING_COOKIE, pending or "", path="/login/oidc")
        replayed = await back(thief, callback)
        assert replayed.status_code == 400, replayed.text
        assert "refused the sign-in code (invalid_grant)" in replayed.text
        assert await badge(thief) is None


async def test_a_missing_name_claim_is_refused_naming_it(
    settings: Settings, store: Store, issuer: str
) -> None:
    await set_user(issuer, "sub-anon", email="anon@example.com", groups=["sj-admins"])
    async with asgi_client(settings, store) as client:
        refused = await sign_in(client, "sub-anon")
        assert refused.status_code == 403
        assert "no usable &#39;preferred_username&#39; claim" in refused.text
        assert await badge(client) is None
    (row,) = audit_rows(store, "console.sign_in_refused")
    assert row.actor == "anon@example.com"


async def test_the_provider_down_gives_a_page_not_a_traceback(
    tmp_path: Path, sqlite_url: str
) -> None:
    upgrade(sqlite_url)
    settings = sso_settings(tmp_path, sqlite_url, f"http://127.0.0.1:{free_port()}")
    store = Store(sqlite_url, audit=TEST_AUDIT_SEAL)
    try:
        async with asgi_client(settings, store) as client:
            down = await client.get("/login/oidc")
            assert down.status_code == 502
            assert "Signing in with Example SSO is not possible right now" in down.text
            assert "Traceback" not in down.text
            # The local sign-in page still works.
            assert (await client.get("/login")).status_code == 200
        # A provider that goes away between sending the user there and their coming back.
        port = free_port()
        settings = sso_settings(tmp_path, sqlite_url, f"http://127.0.0.1:{port}")
        async with asgi_client(settings, store) as client:
            with oidc_provider(tmp_path, port) as gone:
                await set_user(gone, "sub-late", preferred_username="late", groups=["sj-admins"])
                callback = await authorize(await start(client), "sub-late")
            late = await back(client, callback)
            assert late.status_code == 502
            assert "not possible right now: it could not be reached" in late.text
            assert await badge(client) is None
    finally:
        store.dispose()


async def _token_for(issuer: str, client_id: str, nonce: str) -> dict[str, Any]:
    """An ID token the real provider issues to `client_id` (the test as that client)."""
    await set_user(issuer, "sub-tok", preferred_username="tok", groups=["sj-admins"])
    authorize_url = httpx.URL(
        f"{issuer}/oauth2/authorize",
        params={
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": "http://elsewhere/cb",
            "scope": "openid",
            "state": "s",
            "nonce": nonce,
        },
    )
    code = parse_qs(urlsplit(await authorize(str(authorize_url), "sub-tok")).query)["code"][0]
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{issuer}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": "http://elsewhere/cb",
            },
            auth=(client_id, "x"),
        )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def _tampered(id_token: str, **changes: Any) -> str:
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_tampered_misdirected_or_replayed_id_tokens_are_refused(
    settings: Settings, issuer: str
) -> None:
    assert settings.console.oidc is not None
    provider = Provider(settings.console.oidc, b"k" * 32)
    ours = await _token_for(issuer, CLIENT_ID, "n-1")
    claims = await provider.verified_claims(ours, "n-1")
    assert claims["sub"] == "sub-tok" and claims["aud"] == [CLIENT_ID]

    async def refusal(tokens: dict[str, Any], nonce: str) -> str:
        with pytest.raises(SignInFailed) as caught:
            await provider.verified_claims(tokens, nonce)
        assert caught.value.status == 400
        assert tokens["id_token"] not in caught.value.message
        return caught.value.message

    # A claim changed after signing: the signature no longer matches.
    promoted = {**ours, "id_token": _tampered(ours["id_token"], groups=["sj-admins", "x"])}
    assert "signature" in await refusal(promoted, "n-1")
    # Signed by the provider, but for another client.
    theirs = await _token_for(issuer, "another-client", "n-2")
    assert "aud" in await refusal(theirs, "n-2")
    # Ours, but from another sign-in (its nonce is not this one's).
    assert "nonce" in await refusal(ours, "n-other")
    # Unsigned ('alg: none') is never accepted.
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    unsigned = header + "." + ours["id_token"].split(".")[1] + "."
    await refusal({**ours, "id_token": unsigned}, "n-1")


def test_settings_name_the_bad_key(tmp_path: Path) -> None:
    config = tmp_path / "smokejumper.toml"
    config.write_text(
        '[console.oidc]\nissuer = "https://sso.example.com"\nclient_id = "sj"\n'
        'client_secret = "literal"\ngroup_roles = { "ops" = "root" }\n'
    )
    with pytest.raises(ConfigError) as literal:
        load_settings(config, data_dir=tmp_path)
    assert "console.oidc.client_secret: a secret may not be written" in str(literal.value)
    config.write_text(
        '[console.oidc]\nissuer = "sso.example.com"\nclient_id = "sj"\n'
        'group_roles = { "ops" = "root" }\n'
    )
    with pytest.raises(ConfigError) as bad:
        load_settings(config, data_dir=tmp_path)
    assert "console.oidc.issuer" in str(bad.value)
    assert "console.oidc.group_roles.ops" in str(bad.value)


async def test_a_user_name_stays_with_the_identity_that_first_signed_in_under_it(
    settings: Settings, store: Store, issuer: str
) -> None:
    await set_user(issuer, "sub-ana", preferred_username="ana", groups=["sj-responders"])
    # Someone who may edit their own preferred_username at the provider picks "ana".
    await set_user(issuer, "sub-eve", preferred_username="ana", groups=["sj-admins"])
    async with asgi_client(settings, store) as client:
        assert (await sign_in(client, "sub-ana")).status_code == 303
        assert await badge(client) == ("ana", "responder")
    async with asgi_client(settings, store) as client:
        taken = await sign_in(client, "sub-eve")
        assert taken.status_code == 403, taken.text
        assert "belongs to another identity at the provider" in taken.text
        assert await badge(client) is None
    async with asgi_client(settings, store) as client:
        assert (await sign_in(client, "sub-ana")).status_code == 303  # still ana's
    refusals = audit_rows(store, "console.sign_in_refused")
    assert [(r.actor, r.data["sub"]) for r in refusals] == [("ana", "sub-eve")]
