"""What the mirror relay workflow and its activity exchange (import-light: the workflow
sandbox re-imports this module)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio.common import RetryPolicy

from smokejumper.contracts.base import Contract, RetryClass

MIRROR_RELAY_WORKFLOW = "mirror-relay"
SIGNAL_POKE = "poke"

# A tool's outage lasts minutes to hours; its entries wait in the store meanwhile (the
# relay reads from a cursor), so there is no giving up: the next attempt carries on.
# A refusal of one entry (HTTP 4xx) is not retried: the activity logs it and moves on.
MIRROR = RetryClass(
    "mirror",
    RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=2),
        maximum_attempts=0,
        non_retryable_error_types=["MirrorNotConfigured"],
    ),
    timedelta(seconds=60),
    heartbeat=timedelta(seconds=30),
)


class MirrorBatch(BaseModel):
    incident_id: int
    system: str
    # The last timeline row (by id) this mirror has had.
    cursor: int = 0


class MirrorProgress(BaseModel):
    cursor: int = 0
    # More rows wait after this batch: read again at once.
    more: bool = False
    # The incident is closed and its closing was delivered: the relay ends.
    closed: bool = False


MIRROR_DELIVER = Contract(
    "mirror_deliver",
    MirrorBatch,
    MirrorProgress,
    retry=MIRROR,
    rehearse=lambda batch, _: MirrorProgress(cursor=batch.cursor),
    description="Carry an incident's new timeline entries to one mirrored tool.",
)


class MirrorStart(BaseModel):
    incident_id: int
    system: str
    cursor: int = 0
    poll_seconds: float = Field(default=10.0, gt=0)


def mirror_relay_id(system: str, incident_workflow_id: str, incident_id: int) -> str:
    return f"mirror-{system}-{incident_workflow_id}-{incident_id}"
