"""`[email]`: the SMTP server e-mail goes out through (suppliers' security contacts,
responders' incident notifications and approval requests)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from smokejumper.settings.sections import Port, Secret, Section

ADDRESS = r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$"
Address = Annotated[str, StringConstraints(pattern=ADDRESS, max_length=254)]
SeverityName = Literal["info", "low", "medium", "high", "critical"]


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
    notify: dict[SeverityName, list[Address]] = Field(
        default_factory=dict,
        description="Who is told by e-mail, per incident severity, when an incident opens, "
        "an approval is requested or decided, and it is resolved or closed: `critical = "
        '["secops@example.com"]`.',
    )
    users: dict[str, Address] = Field(
        default_factory=dict,
        description="Responder name (as approver groups list them) to e-mail address: "
        "approval requests with Approve/Deny links go to the approvers listed here.",
    )
    link_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 14,
        description="An Approve/Deny link in an approval request works for this long, once.",
    )
    link_secret: Secret | None = Field(
        default=None,
        description="Key that signs Approve/Deny links (secret). Unset: derived from the "
        "console's session key, which the worker and the API must then share "
        "(console.session_secret or api.operator_token).",
    )

    @property
    def notifies(self) -> bool:
        """Responders are mailed at all (beside suppliers)."""
        return any(self.notify.values()) or bool(self.users)
