"""A step whose provider family (or provider) runs on a task queue of its own: the queue
is asked of the playbook's worker when the step runs (a local activity, so the answer is
in the history and a replay takes the same queue), and a step still waiting on it after a
while checks that a worker polls that queue, and says so on the timeline when none does.

The playbook does not change: `self.step("revoke key", REVOKE_KEY, action)` goes to the
keys queue when `temporal.integration_queues` lists `keys` (or `keys.<action.provider>`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

from smokejumper.contracts.queues import (
    INTEGRATION_QUEUE,
    QUEUE_HAS_WORKER,
    QueueQuestion,
    QueueRoute,
)
from smokejumper.sdk.attempts import Attempted
from smokejumper.sdk.patches import INTEGRATION_QUEUES_PATCH
from smokejumper.temporal.queues import family_of

# While the queue has a worker but the step is still not done, it is checked again this
# much later each time, up to CHECK_AT_MOST_EVERY.
CHECK_AT_MOST_EVERY = timedelta(minutes=10)

Waiting = Callable[[QueueRoute], Awaitable[None]]


async def run_routed(attempted: Attempted, waiting: Waiting) -> Any:
    """Run the step's activity on its task queue; `waiting` is told once when nothing
    polls that queue while the step waits."""
    contract = attempted.contract
    assert contract is not None, "a step with nothing to run is only handed over"
    # Only the routable families ask, and runs recorded before routing existed never do.
    if family_of(contract.name) is None or not workflow.patched(INTEGRATION_QUEUES_PATCH):
        return await attempted.run()
    provider = getattr(attempted.arg, "provider", None)
    route: QueueRoute = await workflow.execute_local_activity(
        INTEGRATION_QUEUE.name,
        QueueQuestion(
            activity=contract.name, provider=provider if isinstance(provider, str) else None
        ),
        result_type=QueueRoute,
        start_to_close_timeout=INTEGRATION_QUEUE.retry.timeout,
        retry_policy=INTEGRATION_QUEUE.retry.policy,
    )
    if route.task_queue is None:
        return await attempted.run()
    running = asyncio.create_task(attempted.run(task_queue=route.task_queue))
    try:
        await _watch(running, route, waiting)
        return await running
    finally:
        # Cancelled while watching (the playbook stopped): the activity is cancelled too.
        if not running.done():
            running.cancel()


async def _watch(running: asyncio.Task[Any], route: QueueRoute, waiting: Waiting) -> None:
    """Return once the activity is done, or once `waiting` was told its queue has no worker."""
    assert route.task_queue is not None
    after = timedelta(seconds=route.check_after_seconds)
    while True:
        try:
            await workflow.wait_condition(running.done, timeout=after)
            return
        except TimeoutError:
            pass
        try:
            polled: bool = await workflow.execute_local_activity(
                QUEUE_HAS_WORKER.name,
                route.task_queue,
                result_type=bool,
                start_to_close_timeout=QUEUE_HAS_WORKER.retry.timeout,
                retry_policy=QUEUE_HAS_WORKER.retry.policy,
            )
        except ActivityError:
            polled = True  # cannot tell: say nothing rather than something untrue
        if not polled and not running.done():
            await waiting(route)
            return
        after = min(after * 2, CHECK_AT_MOST_EVERY)
