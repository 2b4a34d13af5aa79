"""Which task queue a provider family's step runs on, and whether a worker serves it: the
playbook's worker answers from its configuration (workflows cannot read configuration) and
asks the Temporal server about the queue's pollers."""

from __future__ import annotations

import logging

from temporalio import activity

from smokejumper.contracts.queues import (
    INTEGRATION_QUEUE,
    QUEUE_HAS_WORKER,
    QueueQuestion,
    QueueRoute,
)
from smokejumper.settings.temporal import TemporalSettings
from smokejumper.temporal.queues import has_worker, route_of

log = logging.getLogger("smokejumper.queues")


class QueueActivities:
    def __init__(self, settings: TemporalSettings) -> None:
        self.settings = settings

    @INTEGRATION_QUEUE.implementation
    async def integration_queue(self, question: QueueQuestion) -> QueueRoute:
        route = route_of(self.settings, question.activity, question.provider)
        if route is None:
            return QueueRoute(check_after_seconds=self.settings.queue_check_seconds)
        return QueueRoute(
            route=route,
            task_queue=self.settings.integration_queue(route),
            check_after_seconds=self.settings.queue_check_seconds,
        )

    @QUEUE_HAS_WORKER.implementation
    async def queue_has_worker(self, task_queue: str) -> bool:
        try:
            return await has_worker(activity.client(), task_queue)
        except Exception as exc:
            # Unknown is not "no worker": the step only goes unremarked.
            log.warning("cannot describe task queue %s: %s", task_queue, type(exc).__name__)
            return True
