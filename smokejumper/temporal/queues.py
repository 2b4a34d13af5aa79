"""Task queue names. Workflows and activities share one queue by default; the activities of
provider families (or single providers) listed in `temporal.integration_queues` run on a
queue of their own, served by `smokejumper worker --queues ...` where their credentials are.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from smokejumper.settings.temporal import ROUTABLE_FAMILIES, TemporalSettings

# The activities of each routable family, by name (the names histories record; kept in step
# with smokejumper/contracts by tests/workers/test_integration_queues.py).
FAMILY_ACTIVITIES: dict[str, frozenset[str]] = {
    "keys": frozenset({"revoke_key", "restore_key", "revoke_keys", "restore_keys"}),
    "endpoints": frozenset({"isolate_endpoint", "restore_endpoint"}),
    "models": frozenset({"rollback_model", "restore_model"}),
}
assert set(FAMILY_ACTIVITIES) == set(ROUTABLE_FAMILIES)

# A worker's pollers start a new long poll (a minute at most) as soon as one ends: one the
# server has not seen for longer than this has gone, though the server lists it for
# minutes more.
POLLER_SEEN_WITHIN = timedelta(seconds=90)


def playbook_queue(settings: TemporalSettings) -> str:
    return settings.task_queue


def family_of(activity: str) -> str | None:
    """The routable family an activity belongs to, if any."""
    return next((f for f, names in FAMILY_ACTIVITIES.items() if activity in names), None)


def route_of(settings: TemporalSettings, activity: str, provider: str | None) -> str | None:
    """The entry of integration_queues that routes a call of `activity` for `provider`
    (the provider's own entry first, then its family's); None: the playbook's queue."""
    family = family_of(activity)
    if family is None:
        return None
    routes = settings.integration_queues
    if provider is not None and f"{family}.{provider}" in routes:
        return f"{family}.{provider}"
    return family if family in routes else None


async def has_worker(client: Client, task_queue: str) -> bool:
    """Whether a worker has polled `task_queue` for activities lately."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        ),
        timeout=timedelta(seconds=3),
    )
    seen_after = datetime.now(UTC) - POLLER_SEEN_WITHIN
    return any(
        not poller.HasField("last_access_time")
        or poller.last_access_time.ToDatetime(tzinfo=UTC) >= seen_after
        for poller in response.pollers
    )
