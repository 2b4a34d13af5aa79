"""Approve/Deny links in approval e-mails: a signed token that names one approval request
for one responder, expires, and is used once.

The token never decides anything by itself. It leads to a console page that needs a
signed-in user and asks them to confirm with a form (POST, CSRF-protected): a mail scanner
that follows the link, or a forwarded copy opened by someone else, cannot vote. Being used
once is kept in `revoked_sessions` (a digest of the link's nonce, until it expires), the
table that already holds signed credentials the server has taken back.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smokejumper.config import Settings
from smokejumper.security.sessions import session_key
from smokejumper.store.tables import RevokedSession

_SALT = "smokejumper.email.approval-link"
_USED = "approval-link:"


class LinkRefused(Exception):
    """The link cannot be used: forged or altered, for another request or person, expired,
    or used already. The message is shown to the person who opened it."""


@dataclass(frozen=True)
class ApprovalLink:
    ref: str
    step: str
    user: str
    nonce: str
    expires: int


def link_key(settings: Settings, operator_token: str) -> bytes:
    """The key links are signed with: `email.link_secret`, else one derived from the
    console's session key (so the worker that sends and the API that reads agree)."""
    email = settings.email
    if email is not None and email.link_secret is not None:
        return email.link_secret.get_secret_value().encode("utf-8")
    return hmac.new(
        session_key(settings, operator_token), b"approval-links", hashlib.sha256
    ).digest()


def issue(key: bytes, ref: str, step: str, user: str, request_key: str, expires: int) -> str:
    """The token for `user`'s link to approval `request_key` (the request's timeline event
    key). The nonce is derived, so a mail sent again carries the same single-use link."""
    payload = {"r": ref, "s": step, "u": user, "n": _nonce(key, request_key, user), "e": expires}
    return str(URLSafeSerializer(key, salt=_SALT).dumps(payload))


def _nonce(key: bytes, request_key: str, user: str) -> str:
    return hmac.new(key, f"{request_key}\x00{user}".encode(), hashlib.sha256).hexdigest()[:32]


def issued_for(key: bytes, link: ApprovalLink, request_key: str) -> bool:
    """Whether `link` was sent for approval request `request_key`: a step asked again
    (a loop, a restored playbook) is a new request, which an older mail's link must not
    decide."""
    return hmac.compare_digest(link.nonce, _nonce(key, request_key, link.user))


def read(key: bytes, token: str, ref: str, step: str, user: str) -> ApprovalLink:
    """The link `token` stands for, checked against the page it was opened on and the
    signed-in user; raises LinkRefused."""
    try:
        payload = URLSafeSerializer(key, salt=_SALT).loads(token)
    except BadSignature:
        raise LinkRefused(
            "This approval link is not valid (it was altered or cut short)."
        ) from None
    if not isinstance(payload, dict) or not all(
        isinstance(payload.get(name), str) for name in ("r", "s", "u", "n")
    ):
        raise LinkRefused("This approval link is not valid.")
    expires = payload.get("e")
    if not isinstance(expires, int):
        raise LinkRefused("This approval link is not valid.")
    link = ApprovalLink(payload["r"], payload["s"], payload["u"], payload["n"], expires)
    if (link.ref, link.step) != (ref, step):
        raise LinkRefused("This approval link is for another incident or step.")
    if time.time() >= link.expires:
        raise LinkRefused(
            "This approval link has expired. Decide from the incident's page instead."
        )
    if link.user != user:
        raise LinkRefused(
            f"This approval link was sent to {link.user}; sign in as {link.user}, or decide "
            "from the incident's page."
        )
    return link


def _digest(link: ApprovalLink) -> str:
    return hashlib.sha256(f"{_USED}{link.nonce}".encode()).hexdigest()


def used(session: Session, link: ApprovalLink) -> bool:
    found = session.scalar(
        select(RevokedSession.sid_sha256).where(RevokedSession.sid_sha256 == _digest(link))
    )
    return found is not None


def use(session: Session, link: ApprovalLink) -> None:
    """Mark the link used, or raise LinkRefused when it was (also by a concurrent request:
    the digest is the table's primary key)."""
    session.add(
        RevokedSession(
            sid_sha256=_digest(link), expires_at=datetime.fromtimestamp(max(link.expires, 0), UTC)
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise LinkRefused("This approval link has been used already.") from None


def release(session: Session, link: ApprovalLink) -> None:
    """Make the link usable again (the decision could not be delivered at all)."""
    row = session.get(RevokedSession, _digest(link))
    if row is not None:
        session.delete(row)
