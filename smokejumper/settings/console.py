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
