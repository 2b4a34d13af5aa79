"""Console sessions: a signed, timestamped cookie; the server keeps only signed-out
sessions (`session_revocation`), so a copied cookie dies at sign-out.

The cookie carries a random session id (`sid`, which also keys the CSRF token) and, once
signed in, the user's name. The user's role and whether they are still enabled are read
from the store on every request, so a role change or `users disable` applies at once; a
single sign-on session carries the role the provider's claims gave at sign-in instead.
Every visitor gets a session id before signing in, so the sign-in form has a CSRF token
too; signing in issues a new id (no session fixation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from smokejumper.config import Settings

COOKIE = "smokejumper_session"
_SALT = "smokejumper.console.session"


@dataclass(frozen=True)
class SessionData:
    sid: str
    user: str | None = None
    # Set by single sign-on: the role the provider's claims mapped to at sign-in. None for a
    # local account, whose role is read from the store on every request.
    role: str | None = None


def session_key(settings: Settings, operator_token: str) -> bytes:
    """The signing key: configured, or derived from the operator token so that API
    replicas sharing that token (and only they) accept each other's cookies."""
    if settings.console.session_secret is not None:
        return settings.console.session_secret.get_secret_value().encode("utf-8")
    return hmac.new(operator_token.encode("utf-8"), b"console-session-key", hashlib.sha256).digest()


class SessionCodec:
    def __init__(self, key: bytes, max_age_seconds: float) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt=_SALT)
        self._csrf_key = hmac.new(key, b"csrf", hashlib.sha256).digest()
        self.max_age = int(max_age_seconds)

    def new(self, user: str | None = None, role: str | None = None) -> SessionData:
        return SessionData(sid=secrets.token_urlsafe(24), user=user, role=role)

    def dumps(self, data: SessionData) -> str:
        payload = {"sid": data.sid, "user": data.user}
        if data.role is not None:
            payload["role"] = data.role
        return str(self._serializer.dumps(payload))

    def loads(self, cookie: str | None) -> SessionData | None:
        """The session in a cookie; None for a missing, forged, malformed or expired one."""
        if not cookie:
            return None
        try:
            payload = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(payload, dict):
            return None
        sid, user, role = payload.get("sid"), payload.get("user"), payload.get("role")
        if not isinstance(sid, str) or not all(
            v is None or isinstance(v, str) for v in (user, role)
        ):
            return None
        return SessionData(sid=sid, user=user, role=role)

    def csrf_token(self, data: SessionData) -> str:
        """The token every form of this session must send back (synchronizer pattern)."""
        return hmac.new(self._csrf_key, data.sid.encode("utf-8"), hashlib.sha256).hexdigest()

    def csrf_valid(self, data: SessionData | None, token: str | None) -> bool:
        if data is None or not token:
            return False
        return hmac.compare_digest(self.csrf_token(data), token)
