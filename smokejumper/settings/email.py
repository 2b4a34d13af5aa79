"""`[email]`: the SMTP server notifications go out through (suppliers' security contacts)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from smokejumper.settings.sections import Port, Secret, Section


class EmailSettings(Section):
    host: str = Field(min_length=1, description="SMTP server host.")
    port: Port = Field(default=587, description="587 (STARTTLS), 465 (TLS) or 25.")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="`starttls` (upgrade after connecting), `tls` (TLS from the start) or "
        "`none` (a relay on the same host only).",
    )
    username: str | None = Field(default=None, description="SMTP login, when it needs one.")
    password: Secret | None = Field(default=None, description="A file:/env: reference.")
    from_address: str = Field(
        pattern=r"^[^@\s]+@[^@\s]+$", description="The sender, e.g. security@example.com."
    )
    reply_to: str | None = Field(
        default=None,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="Where replies go (the incident response team's mailbox).",
    )
    timeout_seconds: float = Field(default=15.0, gt=0, le=300)
