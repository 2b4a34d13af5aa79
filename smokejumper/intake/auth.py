"""Who sent this alert: a configured source (bearer token or HMAC signature) or the operator.

401: no credential, or one that matches nothing (also a stale or replayed signature).
403: a valid credential of another source than the one the request is for.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from smokejumper.config import Settings
from smokejumper.security.signatures import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    signature_matches,
    timestamp_fresh,
)

OPERATOR = "operator"


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Caller:
    """`source` is the configured source name, or None for the operator."""

    source: str | None

    @property
    def is_operator(self) -> bool:
        return self.source is None

    @property
    def actor(self) -> str:
        return OPERATOR if self.source is None else f"source:{self.source}"


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class SourceAuthenticator:
    def __init__(self, settings: Settings, operator_token: str) -> None:
        self.settings = settings
        self.operator_token = operator_token
        self.window = settings.intake.replay_window_seconds
        self.replays = ReplayGuard(self.window)

    def authenticate_head(self, headers: Mapping[str, str]) -> Caller | None:
        """Who sends, from the headers alone, before any of the body is read: the caller of
        a bearer token; None for a signed request whose timestamp is fresh (its signature
        is over the body: `authenticate` checks it then). Anything else is refused here."""
        token = bearer(headers)
        if token is not None:
            return self._by_token(token)
        signature = headers.get(SIGNATURE_HEADER)
        if signature is None:
            raise AuthError(401, "missing credentials: send a bearer token or a signature")
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        if not timestamp_fresh(timestamp, self.window):
            raise AuthError(401, f"missing or stale {TIMESTAMP_HEADER} (window {self.window} s)")
        if not any(source.signing_secret for source in self.settings.sources.values()):
            raise AuthError(401, "invalid signature")
        return None

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> Caller:
        token = bearer(headers)
        if token is not None:
            return self._by_token(token)
        signature = headers.get(SIGNATURE_HEADER)
        if signature is not None:
            return self._by_signature(headers.get(TIMESTAMP_HEADER, ""), body, signature)
        raise AuthError(401, "missing credentials: send a bearer token or a signature")

    def _by_token(self, token: str) -> Caller:
        # Compare against every credential so timing says nothing about which one is close.
        matched: Caller | None = None
        if hmac.compare_digest(token.encode(), self.operator_token.encode()):
            matched = Caller(source=None)
        for name, source in self.settings.sources.items():
            if source.token is not None and hmac.compare_digest(
                token.encode(), source.token.get_secret_value().encode()
            ):
                matched = Caller(source=name)
        if matched is None:
            raise AuthError(401, "invalid credentials")
        return matched

    def _by_signature(self, timestamp: str, body: bytes, signature: str) -> Caller:
        if not timestamp_fresh(timestamp, self.window):
            raise AuthError(401, f"missing or stale {TIMESTAMP_HEADER} (window {self.window} s)")
        matched: Caller | None = None
        for name, source in self.settings.sources.items():
            if source.signing_secret is not None and signature_matches(
                source.signing_secret.get_secret_value(), timestamp, body, signature
            ):
                matched = Caller(source=name)
        if matched is None:
            raise AuthError(401, "invalid signature")
        if not self.replays.first_use(signature):
            raise AuthError(401, "replayed request: this signature was already used")
        return matched

    def authorize(self, caller: Caller, source: str) -> None:
        """The operator may send for any source; a source only for itself."""
        if caller.source is not None and caller.source != source:
            raise AuthError(
                403, f"this credential belongs to source {caller.source!r}, not {source!r}"
            )
