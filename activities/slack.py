"""Slack delivery: the relay's activity, and the hook that feeds the relay.

The hook runs inside the timeline and notification activities the playbooks already call:
after the row is written it signals-with-start the incident's Slack relay workflow. So the
playbooks issue no new commands (recorded histories replay unchanged) and never wait for
Slack; the relay delivers with its own retry policy (see integrations/slack/relay.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from integrations.slack.client import describe, web_client
from integrations.slack.feed import incident_workflow_id, signal_relay
from integrations.slack.messages import (
    SLACK_DELIVER,
    SlackDelivery,
    SlackPosts,
)
from integrations.slack.publisher import Publisher
from integrations.slack.templates import Renderer
from integrations.slack.views import people
from smokejumper.config import Settings
from smokejumper.domain.incidents import TimelineEntry
from smokejumper.store.db import Store

log = logging.getLogger("smokejumper.slack")

TimelineListener = Callable[[TimelineEntry], Awaitable[None]]


def rate_limit_or_outage(exc: SlackApiError, method: str) -> ApplicationError:
    """The retry Temporal should make: after Retry-After for a 429, with backoff for an
    outage, never for a refusal such as invalid_auth."""
    failure = describe(exc, method)
    if failure.status == 429:
        delay = timedelta(seconds=failure.retry_after if failure.retry_after is not None else 1)
        return ApplicationError(str(failure), type="SlackRateLimited", next_retry_delay=delay)
    if failure.transient:
        return ApplicationError(str(failure), type="SlackUnavailable")
    return ApplicationError(str(failure), type="SlackRefused", non_retryable=True)


class SlackActivities:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.publisher = Publisher(
            settings,
            store,
            web_client(settings.slack),
            Renderer(settings.slack.templates_dir),
            resolve=lambda entries: people(entries, settings.approvers),
        )

    @SLACK_DELIVER.implementation
    async def slack_deliver(self, delivery: SlackDelivery) -> SlackPosts:
        """Post or update what one timeline event changes in Slack; resumes after the
        sub-steps an earlier attempt finished (kept in its heartbeat)."""
        posts = delivery.posts
        details = activity.info().heartbeat_details
        if details:
            posts = SlackPosts.model_validate(details[0])

        def progress(now: SlackPosts) -> None:
            activity.heartbeat(now.model_dump(mode="json"))

        try:
            return await self.publisher.deliver(delivery.entry, posts, progress)
        except SlackApiError as exc:
            failure = rate_limit_or_outage(exc, str(exc.response.api_url).rsplit("/", 1)[-1])
            log.warning("Slack delivery of %s: %s", delivery.entry.kind, failure.message)
            raise failure from None
        except SlackClientError as exc:
            raise ApplicationError(
                f"Slack: {type(exc).__name__}", type="SlackUnavailable"
            ) from None
        except OSError as exc:
            # urllib's connection errors: Slack (or the network to it) is down.
            raise ApplicationError(
                f"Slack unreachable: {exc.__class__.__name__}", type="SlackUnavailable"
            ) from None


class RelaySignaller:
    """The timeline hook: hands each written event to the incident's Slack relay."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.task_queue = settings.temporal.task_queue

    async def __call__(self, entry: TimelineEntry) -> None:
        workflow_id = await asyncio.to_thread(self._workflow_id, entry.incident_id)
        if workflow_id is None:
            log.warning("no incident %s to relay a %s event of", entry.incident_id, entry.kind)
            return
        await signal_relay(activity.client(), self.task_queue, workflow_id, entry)

    def _workflow_id(self, incident_id: int) -> str | None:
        return incident_workflow_id(self.store, incident_id)


def slack_hook(store: Store, settings: Settings) -> TimelineListener | None:
    return RelaySignaller(store, settings) if settings.slack.enabled else None


def slack_activities(store: Store, settings: Settings) -> list[Callable[..., Any]]:
    return [SlackActivities(store, settings).slack_deliver] if settings.slack.enabled else []
