"""Handing timeline events to an incident's Slack relay from outside a playbook.

Timeline activities signal the relay themselves (activities/slack.py). Events written
elsewhere (the scheduler's SLA reminders and breaches, tasks added or completed from the
API, the console or Slack) go through `RelayFeed`: the same signal-with-start, with the
process's own Temporal client. The row on the timeline is the record: a Temporal outage
delays nothing but the Slack message and is logged, never the responder's error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from sqlalchemy import select
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from integrations.slack.messages import RELAY_WORKFLOW, SIGNAL_TIMELINE, RelayStart, relay_id
from smokejumper.config import Settings
from smokejumper.domain.incidents import TimelineEntry
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident

log = logging.getLogger("smokejumper.slack")

TimelineHook = Callable[[TimelineEntry], Awaitable[None]]


async def signal_relay(
    client: Client, task_queue: str, incident_workflow_id: str, entry: TimelineEntry
) -> None:
    """Give `entry` to the incident's relay, starting it the first time. The relay of a
    closed incident has finished and is not started again: later events stay on the
    timeline only."""
    try:
        await client.start_workflow(
            RELAY_WORKFLOW,
            RelayStart(incident_id=entry.incident_id),
            id=relay_id(incident_workflow_id, entry.incident_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            start_signal=SIGNAL_TIMELINE,
            start_signal_args=[entry],
        )
    except WorkflowAlreadyStartedError:
        return
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise


def incident_workflow_id(store: Store, incident_id: int) -> str | None:
    with store.session() as session:
        return session.scalar(select(Incident.workflow_id).where(Incident.id == incident_id))


class RelayFeed:
    """A timeline hook for processes other than the worker (API, scheduler)."""

    def __init__(
        self, store: Store, settings: Settings, temporal: Callable[[], Awaitable[Client]]
    ) -> None:
        self.store = store
        self.task_queue = settings.temporal.task_queue
        self.temporal = temporal

    async def __call__(self, entry: TimelineEntry) -> None:
        workflow_id = await asyncio.to_thread(incident_workflow_id, self.store, entry.incident_id)
        if workflow_id is None:
            return
        try:
            await signal_relay(await self.temporal(), self.task_queue, workflow_id, entry)
        except (RPCError, RuntimeError, OSError) as exc:
            log.warning(
                "%s of incident %d not handed to Slack: %s",
                entry.kind,
                entry.incident_id,
                type(exc).__name__,
            )


def slack_feed(
    store: Store, settings: Settings, temporal: Callable[[], Awaitable[Client]]
) -> TimelineHook | None:
    """The hook, or None when Slack is not configured."""
    return RelayFeed(store, settings, temporal) if settings.slack.enabled else None


def install_feed(app: FastAPI) -> None:
    """Give an API app (`smokejumper.app.create_app`) the hook its task routes call."""
    state = app.state.smokejumper
    app.state.timeline_hook = slack_feed(state.store, state.settings, state.temporal)
