"""`[console]`: the web console's sign-in, sessions and roles."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from smokejumper.settings.sections import Secret, Section

# A role as configuration names it (security.users.Role ranks them).
RoleName = Literal["viewer", "responder", "admin"]


class OidcSettings(Section):
    """`[console.oidc]`: sign-in through an OpenID Connect provider (authorization code
    flow with PKCE), beside local accounts and the auth proxy."""

    name: str = Field(
        default="single sign-on",
        min_length=1,
        max_length=60,
        description="What the sign-in button calls the provider: 'Sign in with <name>'.",
    )
    issuer: str = Field(
        pattern=r"^https?://[^\s?#]+$",
        description="The provider's issuer URL; its /.well-known/openid-configuration is read.",
    )
    client_id: str = Field(min_length=1, max_length=300, description="This console's client id.")
    client_secret: Secret = Field(
        description="The client secret (secret; a file:/env: reference): the console is a "
        "confidential client, and sends PKCE besides.",
    )
    scopes: list[str] = Field(
        default_factory=lambda: ["openid", "email", "profile"],
        description="Scopes asked for; `openid` is always added.",
    )
    username_claim: str = Field(
        default="preferred_username",
        min_length=1,
        description="The ID token claim that is the user's name: the name approvals and the "
        "audit log carry, so it must match the names playbooks' approvers use.",
    )
    role_claim: str | None = Field(
        default=None,
        description="A claim whose value (or one of whose values) is viewer, responder or "
        "admin; checked before `group_roles`.",
    )
    groups_claim: str = Field(default="groups", min_length=1, description="The groups claim.")
    group_roles: dict[str, RoleName] = Field(
        default_factory=dict,
        description="Group name -> role; a user in several groups gets the highest role.",
    )
    default_role: RoleName | None = Field(
        default=None,
        description="Role of a user whose claims map to no role; null (the default) refuses them.",
    )
    redirect_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s?#]+$",
        description="The console's URL as browsers reach it; the provider sends them back "
        "to <this>/login/oidc/callback. Unset: api.public_url, else the request's own URL.",
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Per-request timeout towards the provider."
    )


class ConsoleSettings(Section):
    """The responder console at `/`: sessions, the auth proxy, who may see what."""

    session_secret: Secret | None = Field(
        default=None,
        description="Key that signs session cookies (secret). Unset: derived from the "
        "operator token, so every API replica sharing it accepts the same cookies.",
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="A sign-in lasts this long."
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="Mark cookies Secure (HTTPS only). Unset: when api.public_url is https.",
    )
    trusted_header: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9-]{1,100}$",
        description="Header an authenticating reverse proxy puts the user name in, e.g. "
        "X-Forwarded-User. Believed only from `trusted_header_proxies`.",
    )
    trusted_header_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of the auth proxies whose `trusted_header` "
        "is believed; from any other address the header is ignored.",
    )
    proxy_default_role: RoleName | None = Field(
        default="viewer",
        description="Role of a proxy-authenticated user with no local account; null refuses them.",
    )
    sign_in_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Failed sign-ins, per account and per client address, after which the "
        "console answers 429 until the oldest of them leaves `sign_in_window_minutes`.",
    )
    sign_in_window_minutes: float = Field(
        default=5.0, gt=0, le=24 * 60, description="The window failed sign-ins are counted in."
    )
    oidc: OidcSettings | None = Field(
        default=None, description="Single sign-on through an OpenID Connect provider."
    )

    @field_validator("trusted_header_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address or network") from None
        return values

    @model_validator(mode="after")
    def _header_needs_proxies(self) -> ConsoleSettings:
        if self.trusted_header and not self.trusted_header_proxies:
            raise ValueError("trusted_header needs trusted_header_proxies (the proxy addresses)")
        return self
