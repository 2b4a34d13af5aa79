"""`smokejumper users ...` and what the accounts and tokens it makes may do on the API;
the audit page finds an edited or deleted row."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from cli.main import app as cli_app
from smokejumper.config import Settings
from smokejumper.console.context import safe_next
from smokejumper.security.users import hash_password, verify_password
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.tables import ApiToken, AuditEntry, User
from tests.console.conftest import asgi_client
from tests.helpers import make_settings


def cli(settings: Settings, *args: str, stdin: str | None = None) -> Result:
    env = {
        "SMOKEJUMPER_DATA_DIR": str(settings.data_dir),
        "SMOKEJUMPER_DATABASE_URL": settings.effective_database_url,
    }
    return CliRunner().invoke(cli_app, list(args), input=stdin, env=env)


def test_sign_in_goes_back_only_to_this_site() -> None:
    assert safe_next("/incidents/INC-2026-0001?x=1") == "/incidents/INC-2026-0001?x=1"
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "", None):
        assert safe_next(target) == "/"


def test_passwords_are_salted_scrypt() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("scrypt$") and first != second
    assert verify_password("correct horse battery", first)
    assert not verify_password("correct horse batterY", first)
    assert not verify_password("anything", None)
    assert not verify_password("anything", "md5$not-ours")


async def test_users_cli_accounts_and_tokens_on_the_api(
    tmp_path: Path, database_url: str, migrated_store: Store
) -> None:
    settings = make_settings(tmp_path, database_url, "127.0.0.1:1")
    added = cli(
        settings,
        "users",
        "add",
        "alice",
        "--role",
        "responder",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert added.exit_code == 0, added.output
    assert "user alice added as responder" in added.output
    again = cli(settings, "users", "add", "alice", "--role", "viewer", "--no-password")
    assert again.exit_code == 1 and "user 'alice' already exists" in again.output
    bad_role = cli(settings, "users", "add", "bob", "--role", "owner", "--no-password")
    assert bad_role.exit_code == 2 and "unknown role 'owner'" in bad_role.output
    short = cli(
        settings, "users", "add", "bob", "--role", "viewer", "--password-stdin", stdin="x\n"
    )
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    bad_name = cli(settings, "users", "add", "bob smith", "--role", "viewer", "--no-password")
    assert bad_name.exit_code == 1 and "is not allowed" in bad_name.output

    issued = cli(settings, "users", "token", "alice", "--label", "soar")
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip()
    assert token.startswith("sjt_")
    with migrated_store.session() as session:
        user = session.scalars(select(User).where(User.name == "alice")).one()
        assert user.password_hash is not None and "a long enough" not in user.password_hash
    listed = json.loads(cli(settings, "users", "list", "--json").stdout)
    assert listed == [
        {"name": "alice", "role": "responder", "password": True, "disabled": False, "tokens": [1]}
    ]

    async with asgi_client(settings, migrated_store, token=token) as alice:
        assert (await alice.get("/api/v1/incidents")).status_code == 200
        with migrated_store.session() as session:
            assert session.scalars(select(ApiToken.last_used_at)).one() is not None
        # A responder may act; there is no such incident, so 404 (not 401 or 403).
        acted = await alice.post(
            "/api/v1/incidents/INC-2026-0042/approvals/x", json={"approve": True}
        )
        assert acted.status_code == 404
        assert cli(settings, "users", "set-role", "alice", "viewer").exit_code == 0
        demoted = await alice.post(
            "/api/v1/incidents/INC-2026-0042/approvals/x", json={"approve": True}
        )
        assert demoted.status_code == 403
        assert cli(settings, "users", "disable", "alice").exit_code == 0
        assert (await alice.get("/api/v1/incidents")).status_code == 401
        assert cli(settings, "users", "enable", "alice").exit_code == 0
        assert (await alice.get("/api/v1/incidents")).status_code == 200
        revoked = cli(settings, "users", "revoke-token", "1")
        assert revoked.exit_code == 0 and "token 1 of alice revoked" in revoked.output
        assert (await alice.get("/api/v1/incidents")).status_code == 401
    with migrated_store.session() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == [
        "user.add",
        "user.token.issue",
        "user.set_role",
        "user.disable",
        "user.enable",
        "user.token.revoke",
    ]


async def test_audit_page_names_the_edited_and_the_deleted_row(
    tmp_path: Path, sqlite_url: str, sqlite_store: Store
) -> None:
    settings = make_settings(
        tmp_path,
        sqlite_url,
        "127.0.0.1:1",
        console={"trusted_header": "X-Forwarded-User", "trusted_header_proxies": ["192.0.2.1"]},
    )
    with sqlite_store.transaction() as session:
        for n in range(4):
            audit.append(
                session, actor="alice", action="approval.approved", subject=f"INC-{n}", data={}
            )
    async with asgi_client(settings, sqlite_store, address="192.0.2.1") as proxy:
        proxy.headers["x-forwarded-user"] = "auditor"
        intact = await proxy.get("/audit?verify=true")
        assert "Chain intact: 4 rows checked" in intact.text
        with sqlite_store.transaction() as session:
            session.execute(update(AuditEntry).where(AuditEntry.id == 2).values(actor="mallory"))
            session.execute(delete(AuditEntry).where(AuditEntry.id == 3))
        broken = await proxy.get("/audit?verify=true")
        assert "Chain broken" in broken.text
        assert "row 2: content does not match its hash: edited" in broken.text
        assert "row 4: chain broken after row 2: a row was deleted or reordered" in broken.text
        filtered = await proxy.get("/audit?actor=mallory")
        assert "1 row(s)" in filtered.text
