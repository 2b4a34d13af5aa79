"""What the Slack relay workflow and its activity exchange (import-light: the workflow
sandbox re-imports this module)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio.common import RetryPolicy

from smokejumper.contracts.base import Contract, RetryClass
from smokejumper.domain.incidents import TimelineEntry

SIGNAL_TIMELINE = "timeline"
RELAY_WORKFLOW = "slack-relay"

# Slack outages last minutes; rate limits name their own delay (Retry-After, honoured by
# the activity through next_retry_delay). After about 30 minutes an event is given up:
# the next one re-renders the card from the store anyway.
SLACK = RetryClass(
    "slack",
    RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=1),
        maximum_attempts=40,
        non_retryable_error_types=["SlackRefused", "TemplateProblem", "ValueError"],
    ),
    timedelta(seconds=30),
    heartbeat=timedelta(seconds=30),
)


class SlackPosts(BaseModel):
    """Where an incident lives in Slack so far; the relay carries it from event to event."""

    channel: str | None = None
    card_ts: str | None = None
    approvals: dict[str, str] = Field(default_factory=dict)
    decided: list[str] = Field(default_factory=list)
    # Each task's message (task id -> ts, in the card's thread), updated once it is settled.
    tasks: dict[str, str] = Field(default_factory=dict)
    # Sub-actions already done for `partial_key` (an activity attempt that failed midway
    # resumes after them instead of posting twice).
    partial_key: str | None = None
    partial: list[str] = Field(default_factory=list)


class SlackDelivery(BaseModel):
    entry: TimelineEntry
    posts: SlackPosts


SLACK_DELIVER = Contract(
    "slack_deliver",
    SlackDelivery,
    SlackPosts,
    retry=SLACK,
    rehearse=lambda delivery, _: delivery.posts,
    description="Post or update what one timeline event changes in Slack.",
)


class RelayStart(BaseModel):
    incident_id: int
    posts: SlackPosts = Field(default_factory=SlackPosts)
    pending: list[TimelineEntry] = Field(default_factory=list)
    seen: list[str] = Field(default_factory=list)


def relay_id(incident_workflow_id: str, incident_id: int) -> str:
    return f"slack-{incident_workflow_id}-{incident_id}"
