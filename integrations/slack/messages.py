"""What the Slack relay workflow and its activity exchange (import-light: the workflow
sandbox re-imports this module)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from smokejumper.domain.incidents import TimelineEntry

SIGNAL_TIMELINE = "timeline"
RELAY_WORKFLOW = "slack-relay"
DELIVER_ACTIVITY = "slack_deliver"


class SlackPosts(BaseModel):
    """Where an incident lives in Slack so far; the relay carries it from event to event."""

    channel: str | None = None
    card_ts: str | None = None
    approvals: dict[str, str] = Field(default_factory=dict)
    decided: list[str] = Field(default_factory=list)
    # Sub-actions already done for `partial_key` (an activity attempt that failed midway
    # resumes after them instead of posting twice).
    partial_key: str | None = None
    partial: list[str] = Field(default_factory=list)


class SlackDelivery(BaseModel):
    entry: TimelineEntry
    posts: SlackPosts


class RelayStart(BaseModel):
    incident_id: int
    posts: SlackPosts = Field(default_factory=SlackPosts)
    pending: list[TimelineEntry] = Field(default_factory=list)
    seen: list[str] = Field(default_factory=list)


def relay_id(incident_workflow_id: str, incident_id: int) -> str:
    return f"slack-{incident_workflow_id}-{incident_id}"
