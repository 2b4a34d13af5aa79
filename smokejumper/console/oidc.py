"""Single sign-on: the console as an OpenID Connect relying party.

The authorization code flow with PKCE (S256), `state` and `nonce`, built from Authlib's
OAuth 2.0 and OpenID Connect parts. The browser carries the pending sign-in in a signed
cookie that lives ten minutes; the callback checks its state, trades the code (with the
PKCE verifier) at the token endpoint, and verifies the ID token against the provider's
JWKS (signature, issuer, audience, expiry, nonce) before any of its claims is believed.
Tokens are never stored, logged or audited: only the subject, e-mail and groups are.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from smokejumper.domain.text import UNSTORABLE
from smokejumper.security.users import USER_NAME, Role
from smokejumper.settings.console import OidcSettings

log = logging.getLogger("smokejumper.console.oidc")

PENDING_COOKIE = "smokejumper_oidc"
START_PATH = "/login/oidc"
CALLBACK_PATH = "/login/oidc/callback"
PENDING_SECONDS = 600
# Discovery and keys are re-read this often; an unknown key id re-reads the keys at once.
_METADATA_SECONDS = 300
# Clock skew allowed on the ID token's times.
_LEEWAY_SECONDS = 60
# Asymmetric signatures only: an HMAC-signed ID token would be keyed by our own secret.
_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,60}$")


class SignInFailed(Exception):
    """A sign-in that cannot go on; shown to the user as an error page with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Pending:
    """A sign-in under way: what the callback must see again, and where to go after."""

    state: str
    nonce: str
    verifier: str
    next: str


@dataclass(frozen=True)
class Identity:
    """Who the provider vouched for, from a verified ID token."""

    subject: str
    name: str | None
    email: str | None
    groups: tuple[str, ...]
    role: Role | None

    def audit_data(self, issuer: str) -> dict[str, Any]:
        return {
            "method": "oidc",
            "issuer": issuer,
            "sub": self.subject,
            "email": self.email,
            "groups": list(self.groups),
        }


class Provider:
    """One configured provider: its discovery document and keys (cached), and the steps
    of a sign-in and a sign-out."""

    def __init__(self, settings: OidcSettings, key: bytes) -> None:
        self.settings = settings
        self.issuer = settings.issuer.rstrip("/")
        self._pending = URLSafeTimedSerializer(key, salt="smokejumper.console.oidc")
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def origin(self) -> str:
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    # --- the provider's documents ------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.settings.timeout_seconds, follow_redirects=False)

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._client() as client:
                response = await client.get(url, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            log.warning("OIDC provider %s unreachable reading %s: %r", self.issuer, what, exc)
            raise self._unavailable() from None
        if response.status_code != 200:
            log.warning(
                "OIDC provider %s answered HTTP %s to %s", self.issuer, response.status_code, what
            )
            raise self._unavailable(f"it answered HTTP {response.status_code} to {what}")
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise self._unavailable(f"its {what} is not a JSON object")
        return document

    def _unavailable(self, why: str = "it could not be reached") -> SignInFailed:
        return SignInFailed(
            502,
            f"Signing in with {self.name} is not possible right now: {why}. "
            "Try again later, or sign in with a local account.",
        )

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is not None and time.monotonic() - self._metadata_at < _METADATA_SECONDS:
            return self._metadata
        document = await self._get_json(
            self.issuer + "/.well-known/openid-configuration", "discovery"
        )
        if str(document.get("issuer", "")).rstrip("/") != self.issuer:
            # OpenID Connect Discovery §4.3: a document naming another issuer is not believed.
            raise self._unavailable(
                f"its discovery document names issuer {document.get('issuer')!r}"
            )
        for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(needed), str):
                raise self._unavailable(f"its discovery document has no {needed}")
        self._metadata, self._metadata_at, self._keys = document, time.monotonic(), None
        return document

    async def _key_set(self, force: bool = False) -> KeySet:
        if self._keys is None or force:
            metadata = await self.metadata()
            document = await self._get_json(metadata["jwks_uri"], "key set (JWKS)")
            try:
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError):
                raise self._unavailable("its key set (JWKS) is not valid") from None
        return self._keys

    # --- signing in --------------------------------------------------------------------

    async def start(self, redirect_uri: str, next_path: str) -> tuple[str, str]:
        """(the provider's authorization URL, the pending-sign-in cookie's value)."""
        metadata = await self.metadata()
        pending = Pending(
            state=generate_token(32),
            nonce=generate_token(32),
            verifier=generate_token(64),
            next=next_path,
        )
        url = prepare_grant_uri(
            metadata["authorization_endpoint"],
            client_id=self.settings.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=" ".join(self._scopes()),
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.verifier),
            code_challenge_method="S256",
        )
        cookie = self._pending.dumps([pending.state, pending.nonce, pending.verifier, pending.next])
        return str(url), str(cookie)

    def _scopes(self) -> list[str]:
        return ["openid", *(s for s in self.settings.scopes if s != "openid")]

    def pending(self, cookie: str | None) -> Pending | None:
        if not cookie:
            return None
        try:
            values = self._pending.loads(cookie, max_age=PENDING_SECONDS)
        except BadSignature:
            return None
        if not (isinstance(values, list) and len(values) == 4):
            return None
        if not all(isinstance(value, str) for value in values):
            return None
        return Pending(*values)

    async def finish(
        self, pending: Pending | None, params: Mapping[str, str], redirect_uri: str
    ) -> Identity:
        """Check the callback against the pending sign-in, trade the code, verify the ID
        token; the identity it vouches for, with the role its claims map to."""
        # This browser's own sign-in first: a link crafted elsewhere must not get its words
        # shown on this site as the provider's.
        if pending is None:
            raise SignInFailed(
                400,
                "This sign-in has expired or was started in another browser. Start again.",
            )
        state = params.get("state") or ""
        error = params.get("error")
        # Some providers leave the state out of an error answer; one they send must match.
        if (state or not error) and not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise SignInFailed(
                400, "The sign-in's state does not match the one this browser started. Start again."
            )
        if error:
            # The provider's own refusal (the user said no, or is not allowed this client),
            # shown only as an error code (RFC 6749 §4.1.2.1), never as free text.
            named = error if _ERROR_CODE.match(error) else "an error it did not name"
            raise SignInFailed(403, f"{self.name} refused the sign-in: {named}.")
        code = params.get("code")
        if not code:
            raise SignInFailed(400, f"{self.name} sent no authorization code. Start again.")
        tokens = await self._trade(code, pending.verifier, redirect_uri)
        claims = await self.verified_claims(tokens, pending.nonce)
        return self._identity(claims)

    async def _trade(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        metadata = await self.metadata()
        url = metadata["token_endpoint"]
        body = urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            }
        )
        methods = metadata.get("token_endpoint_auth_methods_supported") or []
        method = (
            "client_secret_post"
            if "client_secret_basic" not in methods and "client_secret_post" in methods
            else "client_secret_basic"
        )
        secret = self.settings.client_secret.get_secret_value()
        auth = ClientAuth(self.settings.client_id, secret, method)
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "accept": "application/json",
        }
        url, headers, body = auth.prepare("POST", url, headers, body)
        try:
            async with self._client() as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("OIDC provider %s unreachable at the token endpoint: %r", self.issuer, exc)
            raise self._unavailable() from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise self._unavailable(f"its token endpoint answered HTTP {response.status_code}")
        if response.status_code != 200 or "error" in answer:
            error = str(answer.get("error", f"HTTP {response.status_code}"))[:100]
            log.warning("OIDC provider %s refused the code: %s", self.issuer, error)
            raise SignInFailed(
                400,
                f"{self.name} refused the sign-in code ({error}): it was already used, has "
                "expired, or was not issued to this console. Start again.",
            )
        if not isinstance(answer.get("id_token"), str):
            raise SignInFailed(502, f"{self.name} sent no ID token; is `openid` a scope?")
        return answer

    async def verified_claims(self, tokens: Mapping[str, Any], nonce: str) -> dict[str, Any]:
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in _ALGORITHMS] or ["RS256"]
        raw = tokens["id_token"]
        try:
            try:
                token = jwt.decode(raw, await self._key_set(), algorithms=algorithms)
            except InvalidKeyIdError:
                # The provider rotated its keys since we read them.
                token = jwt.decode(raw, await self._key_set(force=True), algorithms=algorithms)
            claims = CodeIDToken(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "value": metadata["issuer"]},
                    "aud": {"essential": True, "value": self.settings.client_id},
                    "sub": {"essential": True},
                },
                {
                    "nonce": nonce,
                    "client_id": self.settings.client_id,
                    "access_token": tokens.get("access_token"),
                },
            )
            claims.validate(leeway=_LEEWAY_SECONDS)
        except (JoseError, ValueError) as exc:
            why = _why(exc)
            log.warning("OIDC ID token from %s refused: %s", self.issuer, why)
            raise SignInFailed(
                400, f"The ID token from {self.name} failed verification ({why}). Start again."
            ) from None
        return dict(claims)

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        settings = self.settings
        raw_name = claims.get(settings.username_claim)
        name = raw_name.strip() if isinstance(raw_name, str) else None
        email = claims.get("email")
        return Identity(
            subject=_storable(str(claims["sub"])),
            name=name if name and USER_NAME.match(name) else None,
            email=_storable(email) if isinstance(email, str) else None,
            groups=tuple(_storable(g) for g in _strings(claims.get(settings.groups_claim))),
            role=role_for(settings, claims),
        )

    # --- signing out -------------------------------------------------------------------

    async def end_session_url(self, after: str) -> str | None:
        """Where to send the browser to end its session at the provider too (RP-initiated
        logout), or None when the provider has no end_session_endpoint."""
        metadata = await self.metadata()
        endpoint = metadata.get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        query = urlencode({"client_id": self.settings.client_id, "post_logout_redirect_uri": after})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def role_for(settings: OidcSettings, claims: Mapping[str, Any]) -> Role | None:
    """The role these verified claims give: the role claim, else the highest mapped group,
    else the default role; None refuses the user."""
    if settings.role_claim:
        named = [
            Role[value.upper()]
            for value in _strings(claims.get(settings.role_claim))
            if value.upper() in Role.__members__
        ]
        if named:
            return max(named)
    mapped = [
        Role.parse(settings.group_roles[group])
        for group in _strings(claims.get(settings.groups_claim))
        if group in settings.group_roles
    ]
    if mapped:
        return max(mapped)
    return Role.parse(settings.default_role) if settings.default_role else None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _storable(text: str) -> str:
    """A claim as the audit log can keep it: the provider passes on what its users typed
    (an e-mail, a synced group name), and PostgreSQL refuses NUL and unpaired surrogates."""
    return UNSTORABLE.sub("\ufffd", text)


def _why(exc: Exception) -> str:
    """What failed, in a few words; never the token."""
    error = getattr(exc, "error", None)
    description = getattr(exc, "description", None)
    if error and description:
        return f"{error}: {description}"[:200]
    return (str(error or exc) or type(exc).__name__)[:200]
