"""`[slack]`: the Slack app: tokens, channel, linked users, templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import (
    Field,
    StringConstraints,
    model_validator,
)

from smokejumper.settings.sections import Secret, Section

SLACK_USER_ID = r"^[UW][A-Z0-9]{2,20}$"


class SlackSettings(Section):
    """Slack as the responder surface (see docs/slack.md). Off until `bot_token` is set."""

    bot_token: Secret | None = Field(
        default=None, description="Bot token (xoxb-...) as a file:/env: reference."
    )
    signing_secret: Secret | None = Field(
        default=None,
        description="Signing secret that `POST /slack/interactions` and `/slack/commands` "
        "verify requests with.",
    )
    app_token: Secret | None = Field(
        default=None, description="App-level token (xapp-...) for Socket Mode."
    )
    socket_mode: bool = Field(
        default=False,
        description="The worker runs a Socket Mode client, for workspaces that cannot reach "
        "the API over HTTP.",
    )
    base_url: str = Field(
        default="https://slack.com/api/",
        pattern=r"^https?://.+/$",
        description="Slack Web API base URL (ends with /); a local emulator in tests and demos.",
    )
    triage_channel: str | None = Field(
        default=None, description="Channel id every new incident is announced in."
    )
    incident_channels: bool = Field(
        default=False,
        description="Open a channel per incident (`<channel_prefix>-2026-0142-<kind>`), "
        "invite `oncall`, set its topic.",
    )
    channel_prefix: str = Field(default="inc", pattern=r"^[a-z0-9][a-z0-9-]{0,20}$")
    oncall: list[str] = Field(
        default_factory=list,
        description="Responders (names or `group:<name>`) invited to incident channels and "
        "mentioned by clock reminders.",
    )
    escalate_to: list[str] = Field(
        default_factory=list,
        description="Responders mentioned by `/smokejumper escalate` and clock breaches.",
    )
    users: dict[Annotated[str, StringConstraints(pattern=SLACK_USER_ID)], str] = Field(
        default_factory=dict,
        description="Slack user id to responder name (the identity approver groups list). "
        "A Slack user who is not here cannot approve.",
    )
    templates_dir: Path | None = Field(
        default=None,
        description="Folder of your own message templates; a file named like a built-in "
        "one replaces it.",
    )

    @model_validator(mode="after")
    def _complete(self) -> SlackSettings:
        if self.bot_token is None:
            return self
        if self.socket_mode and self.app_token is None:
            raise ValueError("slack.app_token is required when slack.socket_mode is true")
        if not self.socket_mode and self.signing_secret is None:
            raise ValueError(
                "slack.signing_secret is required (or set socket_mode with an app_token)"
            )
        if self.incident_channels is False and self.triage_channel is None:
            raise ValueError("set slack.triage_channel or slack.incident_channels")
        if self.templates_dir is not None and not self.templates_dir.is_dir():
            raise ValueError(f"slack.templates_dir: folder {self.templates_dir} does not exist")
        return self

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None

    def slack_id(self, responder: str) -> str | None:
        """The Slack user id of a responder, for mentions."""
        return next((uid for uid, name in self.users.items() if name == responder), None)
