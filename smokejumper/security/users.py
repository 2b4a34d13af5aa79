"""Console accounts, their roles, passwords (scrypt) and API tokens.

A user's `name` is the identity approvals check against the playbook's approvers (and
`[approvers]` groups), so it must be the same name the playbooks and Slack mapping use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from smokejumper.store.tables import ApiToken, User

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,199}$")
TOKEN_PREFIX = "sjt_"  # noqa: S105 - marks smokejumper API tokens in secret scanners
MIN_PASSWORD = 12

# scrypt at N=2^15, r=8: ~32 MiB and tens of milliseconds per guess on this machine class.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


class Role(IntEnum):
    """Ordered: each role may do what the ones below it may."""

    VIEWER = 1
    RESPONDER = 2
    ADMIN = 3

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls[value.upper()]
        except KeyError:
            raise UserError(f"unknown role {value!r}: choose viewer, responder or admin") from None

    @property
    def label(self) -> str:
        return self.name.lower()


class UserError(ValueError):
    """A refused account operation; the message says which input is wrong."""


@dataclass(frozen=True)
class Principal:
    """Who is asking, and how they proved it (session, proxy, token, operator)."""

    name: str
    role: Role
    via: str

    def may(self, role: Role) -> bool:
        return self.role >= role


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(
        ["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, encoded: str | None) -> bool:
    if encoded is None:
        # Same work as a real check, so timing does not tell which accounts have passwords.
        _scrypt(password, b"\0" * 16, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
        return False
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_name(name: str) -> str:
    if not USER_NAME.match(name):
        raise UserError(
            f"user name {name!r} is not allowed: letters, digits and . _ @ - only, "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password too short: at least {MIN_PASSWORD} characters")
    return password


def add_user(session: Session, name: str, role: Role, password: str | None) -> User:
    check_name(name)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise UserError(f"user {name!r} already exists")
    user = User(
        name=name,
        role=role.label,
        password_hash=hash_password(check_password(password)) if password is not None else None,
        disabled=False,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user {name!r}")
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The active user this name and password belong to, or None."""
    user = session.scalar(select(User).where(User.name == name))
    if not verify_password(password, user.password_hash if user else None):
        return None
    assert user is not None
    return None if user.disabled else user


def active_principal(session: Session, name: str, via: str) -> Principal | None:
    user = session.scalar(select(User).where(User.name == name))
    if user is None or user.disabled:
        return None
    return Principal(name=user.name, role=Role.parse(user.role), via=via)


def token_sha256(token: str) -> str:
    # Tokens are 256 random bits, so a plain hash (no salt, no stretching) is enough.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user: User, label: str) -> tuple[ApiToken, str]:
    """A new token for `user`; the clear text is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, label=label, token_sha256=token_sha256(token))
    session.add(row)
    session.flush()
    return row, token


def principal_for_token(session: Session, token: str) -> tuple[Principal, int, bool] | None:
    """The active user an unrevoked API token belongs to: (principal, token id, whether its
    last use is worth recording). Reads only, so checking a token takes no write lock."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_sha256(token)))
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    last = row.last_used_at
    # At most one write a minute per token: automation polling the API stays read-only.
    stale = last is None or (datetime.now(UTC) - last).total_seconds() > 60
    return (
        Principal(name=user.name, role=Role.parse(user.role), via=f"token:{row.id}"),
        row.id,
        stale,
    )


def touch_token(session: Session, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is not None:
        row.last_used_at = datetime.now(UTC)


def revoke_token(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise UserError(f"no API token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    return row
