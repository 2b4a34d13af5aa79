"""Where a step's activity runs: the SDK asks the playbook's worker which task queue a
provider family's call goes to (recorded in the history, so a replay takes the same
queue), and whether a worker polls it when the call is slow to finish."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio.common import RetryPolicy

from smokejumper.contracts.base import Contract, RetryClass


class QueueQuestion(BaseModel):
    """A step about to call `activity` for `provider` (its argument's `provider`, if any)."""

    activity: str
    provider: str | None = None


class QueueRoute(BaseModel):
    """Where the call goes: `route` (an entry of temporal.integration_queues) and its task
    queue; both None for the playbook's own queue."""

    route: str | None = None
    task_queue: str | None = None
    check_after_seconds: float = Field(default=10.0, gt=0)


# Reading the worker's settings or asking the server about a queue: quick, and a failure
# is not worth holding a step for long.
QUEUE_LOOKUP = RetryClass(
    "queue-lookup",
    RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=5),
        maximum_attempts=5,
    ),
    timedelta(seconds=10),
)

INTEGRATION_QUEUE = Contract(
    "integration_queue",
    QueueQuestion,
    QueueRoute,
    retry=QUEUE_LOOKUP,
    description="The task queue a provider family's activity runs on (temporal."
    "integration_queues of the playbook's worker).",
)
QUEUE_HAS_WORKER = Contract(
    "queue_has_worker",
    str,
    bool,
    retry=QUEUE_LOOKUP,
    rehearse=lambda _queue, _rehearsal: True,
    description="Whether a worker polls a task queue for activities.",
)
