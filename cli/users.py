"""`smokejumper users add|list|set-role|disable|enable|token|revoke-token`.

They write the database directly (like `inventory import`), so whoever can run them holds
the keys to the store anyway: they are the bootstrap for the first admin. Each change is
recorded in the audit log as `cli:<login name>`.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cli.inventory import _store
from cli.output import fail, print_json, table
from smokejumper.security.users import (
    Role,
    UserError,
    add_user,
    check_password,
    get_user,
    issue_token,
    revoke_token,
)
from smokejumper.store import audit
from smokejumper.store.tables import ApiToken, User

users_app = typer.Typer(
    help="Console accounts (viewer, responder, admin) and their API tokens.",
    no_args_is_help=True,
)

T = TypeVar("T")
NameArg = Annotated[str, typer.Argument(help="User name: the identity approvals check.")]
RoleArg = Annotated[str, typer.Argument(help="viewer, responder or admin.")]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _change(ctx: typer.Context, change: Callable[[Session], T]) -> T:
    """Run `change` in one transaction; a refused change exits 1 with its reason."""
    with _store(ctx) as store:
        try:
            with store.transaction() as session:
                return change(session)
        except UserError as exc:
            raise fail(str(exc), 1) from None
        except DBAPIError as exc:
            raise fail(
                f"cannot use the users tables ({type(exc.orig).__name__}); is the database "
                "reachable and migrated (`smokejumper db upgrade`)?",
                2,
            ) from None


def _audit(session: Session, action: str, subject: str, **data: Any) -> None:
    audit.append(session, actor=_actor(), action=action, subject=subject, data=data)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: NameArg,
    role: Annotated[str, typer.Option("--role", "-r", help="viewer, responder or admin.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    no_password: Annotated[
        bool,
        typer.Option(
            "--no-password", help="No console password: auth-proxy sign-in and API tokens only."
        ),
    ] = False,
) -> None:
    """Create a console account; asks for its password unless told otherwise."""
    try:
        parsed = Role.parse(role)
        password = None if no_password else check_password(_read_password(password_stdin))
    except UserError as exc:
        raise fail(str(exc), 2) from None

    def change(session: Session) -> None:
        add_user(session, name, parsed, password)
        _audit(session, "user.add", name, role=parsed.label, password=password is not None)

    _change(ctx, change)
    typer.echo(f"user {name} added as {parsed.label}")


@users_app.command("list")
def users_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Every account, its role and its tokens (never the tokens themselves)."""

    def read(session: Session) -> list[dict[str, Any]]:
        users = session.scalars(select(User).order_by(User.name)).all()
        tokens = session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None))).all()
        return [
            {
                "name": user.name,
                "role": user.role,
                "password": user.password_hash is not None,
                "disabled": user.disabled,
                "tokens": sorted(t.id for t in tokens if t.user_id == user.id),
            }
            for user in users
        ]

    rows = _change(ctx, read)
    if as_json:
        print_json(rows)
        return
    typer.echo(
        table(
            ("name", "role", "password", "disabled", "tokens"),
            [
                (
                    r["name"],
                    r["role"],
                    "yes" if r["password"] else "no",
                    "yes" if r["disabled"] else "no",
                    ", ".join(map(str, r["tokens"])) or "-",
                )
                for r in rows
            ],
        )
    )


@users_app.command("set-role")
def users_set_role(ctx: typer.Context, name: NameArg, role: RoleArg) -> None:
    """Change an account's role; it applies to its next request."""
    try:
        parsed = Role.parse(role)
    except UserError as exc:
        raise fail(str(exc), 2) from None

    def change(session: Session) -> None:
        user = get_user(session, name)
        _audit(session, "user.set_role", name, previous=user.role, role=parsed.label)
        user.role = parsed.label

    _change(ctx, change)
    typer.echo(f"user {name} is now {parsed.label}")


def _set_disabled(ctx: typer.Context, name: str, disabled: bool) -> None:
    def change(session: Session) -> None:
        get_user(session, name).disabled = disabled
        _audit(session, "user.disable" if disabled else "user.enable", name)

    _change(ctx, change)
    typer.echo(f"user {name} {'disabled' if disabled else 'enabled'}")


@users_app.command("disable")
def users_disable(ctx: typer.Context, name: NameArg) -> None:
    """Refuse the account's sessions and tokens from its next request on."""
    _set_disabled(ctx, name, True)


@users_app.command("enable")
def users_enable(ctx: typer.Context, name: NameArg) -> None:
    """Let a disabled account in again."""
    _set_disabled(ctx, name, False)


@users_app.command("token")
def users_token(
    ctx: typer.Context,
    name: NameArg,
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "automation",
) -> None:
    """Issue an API token acting as NAME with NAME's role; printed once, stored hashed."""

    def change(session: Session) -> tuple[int, str]:
        row, token = issue_token(session, get_user(session, name), label)
        _audit(session, "user.token.issue", name, token_id=row.id, label=label)
        return row.id, token

    token_id, token = _change(ctx, change)
    typer.echo(token)
    typer.echo(f"token {token_id} for {name}: shown once, keep it in a secret store", err=True)


@users_app.command("revoke-token")
def users_revoke_token(
    ctx: typer.Context, token_id: Annotated[int, typer.Argument(help="The token's number.")]
) -> None:
    """Revoke an API token; it is refused from its next request on."""

    def change(session: Session) -> str:
        row = revoke_token(session, token_id)
        user = session.get(User, row.user_id)
        _audit(session, "user.token.revoke", user.name if user else "?", token_id=token_id)
        return user.name if user else "?"

    owner = _change(ctx, change)
    typer.echo(f"token {token_id} of {owner} revoked")
