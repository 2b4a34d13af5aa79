"""What the e-mail delivery workflow and its activity exchange (import-light: the
workflow sandbox re-imports this module)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from pydantic import BaseModel
from temporalio.common import RetryPolicy

from smokejumper.contracts.base import Contract, RetryClass
from smokejumper.domain.incidents import TimelineEntry

DELIVERY_WORKFLOW = "email-delivery"

# A mail server that is down for maintenance is back within the hour; after about that
# long the event's mail is given up (its timeline entry, the console and Slack still say
# it). Refusals a retry cannot change (a login, a recipient) are not retried.
EMAIL = RetryClass(
    "email",
    RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=2),
        maximum_attempts=40,
        non_retryable_error_types=["EmailRefused", "ValueError"],
    ),
    timedelta(minutes=5),
)

# Timeline events that are told by e-mail. `playbook.started` is the incident opening (a
# child playbook's start is the same opening: one mail per incident).
MAILED = frozenset(
    {
        "playbook.started",
        "approval.requested",
        "approval.approved",
        "approval.denied",
        "approval.timed_out",
        "approval.withdrawn",
        "incident.status",
    }
)
TOLD_STATUSES = frozenset({"resolved", "closed"})


class EmailDelivery(BaseModel):
    """One timeline event to tell by e-mail; `key` names it once per incident."""

    entry: TimelineEntry
    key: str


EMAIL_DELIVER = Contract(
    "email_deliver",
    EmailDelivery,
    int,
    retry=EMAIL,
    description="E-mail what one timeline event tells (notices, approval requests); "
    "returns how many messages were sent.",
)


def mail_key(entry: TimelineEntry) -> str | None:
    """The event's idempotency key, or None when it is not told by e-mail."""
    if entry.kind not in MAILED:
        return None
    if entry.kind == "playbook.started":
        return f"{entry.incident_id}:opened"
    if entry.kind == "incident.status" and entry.data.get("to") not in TOLD_STATUSES:
        return None
    return entry.event_key


def delivery_id(incident_workflow_id: str, key: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
    return f"email-{incident_workflow_id}-{digest}"
