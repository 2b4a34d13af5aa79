"""`[pagerduty]`, `[opsgenie]`, `[jira]`, `[teams]`: the tools an incident is mirrored to.

Each section, when present, turns its mirror on (docs/integrations.md). Credentials are
secrets given by reference (`file:` / `env:`); base URLs default to the real services and
are changed only to point at a regional endpoint, a proxy or a test emulator.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from smokejumper.settings.sections import Secret, Section

MinimumSeverity = Literal["info", "low", "medium", "high", "critical"]
# The statuses a change made in another tool may set here. Closing ends the playbook and
# is left to responders here; `resolved` is as far as another tool may take an incident.
InboundStatus = Literal["acknowledged", "resolved"]


class _Mirror(Section):
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    sync_seconds: float = Field(
        default=10.0,
        ge=0.2,
        le=3600,
        description="How often an open incident's mirror looks for timeline entries no "
        "activity announced (notes, changes from other tools).",
    )


class PagerDutySettings(_Mirror):
    routing_key: Secret = Field(
        description="The Events API v2 integration key of the PagerDuty service."
    )
    events_url: str = Field(
        default="https://events.pagerduty.com",
        pattern=r"^https?://",
        description="Events API host (`https://events.eu.pagerduty.com` for EU accounts).",
    )
    min_severity: MinimumSeverity = Field(
        default="high", description="Incidents at or above this severity page."
    )
    webhook_secret: Secret | None = Field(
        default=None,
        description="The signing secret of the V3 webhook subscription; unset refuses "
        "PagerDuty's webhooks.",
    )


class OpsgenieSettings(_Mirror):
    api_key: Secret = Field(description="The API key of an Opsgenie API integration.")
    api_url: str = Field(
        default="https://api.opsgenie.com",
        pattern=r"^https?://",
        description="`https://api.eu.opsgenie.com` for EU accounts.",
    )
    min_severity: MinimumSeverity = Field(default="high")
    webhook_secret: Secret | None = Field(
        default=None,
        description="Opsgenie's outgoing webhooks are not signed: the webhook integration "
        "sends this value in the `X-Smokejumper-Token` header (a custom header of the "
        "integration). Unset refuses Opsgenie's webhooks.",
    )


class JiraSettings(_Mirror):
    url: str = Field(
        pattern=r"^https?://", description="The Jira Cloud site, https://<site>.atlassian.net."
    )
    email: str = Field(
        pattern=r"^[^@\s]+@[^@\s]+$", description="The Atlassian account the API token is of."
    )
    api_token: Secret = Field(description="An Atlassian API token of `email`.")
    project: str = Field(min_length=1, max_length=100, description="The project key, e.g. SEC.")
    issue_type: str = Field(default="Task", min_length=1, max_length=100)
    fields: dict[str, object] = Field(
        default_factory=dict,
        description="More fields of the created issue, as REST v3 takes them "
        '(e.g. `labels = ["genai"]`, `customfield_10020 = 3`).',
    )
    transitions: dict[str, str] = Field(
        default_factory=dict,
        description="Our status → the name of the Jira transition to run, e.g. "
        '`resolved = "Done"`.',
    )
    statuses: dict[str, InboundStatus] = Field(
        default_factory=dict,
        description="A Jira status name → the status it sets here, e.g. "
        '`"In Progress" = "acknowledged"`.',
    )
    webhook_secret: Secret | None = Field(
        default=None,
        description="The secret of the Jira webhook (X-Hub-Signature); unset refuses "
        "Jira's webhooks.",
    )

    @field_validator("transitions")
    @classmethod
    def _our_statuses(cls, value: dict[str, str]) -> dict[str, str]:
        known = {"open", "acknowledged", "contained", "partly_contained", "resolved", "closed"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"not statuses of an incident: {', '.join(unknown)}")
        return value


class TeamsSettings(_Mirror):
    webhook_url: Secret = Field(
        description="The Workflows (or incoming) webhook URL of the channel; it carries its "
        "own signature, so it is a secret."
    )
    min_severity: MinimumSeverity = Field(default="info")


# What the comments smokejumper posts to Jira start with: the webhook of one of them is not
# taken back in as a note. The separator is part of it, so a responder's comment that starts
# with the word "smokejumper" is still taken in.
JIRA_COMMENT_MARK = "smokejumper · "
