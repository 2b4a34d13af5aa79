"""Notifying responders from playbooks.

Every notification lands on the incident's timeline (what the CLI, API and console show),
with its recipients resolved from the approver groups. Chat delivery (Slack) is a further
notifier on the same activity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from activities.approvals import resolve_people
from smokejumper.config import Settings
from smokejumper.contracts.bookkeeping import NOTIFY
from smokejumper.domain.incidents import Notification, TimelineEntry
from smokejumper.store.db import Store
from smokejumper.store.tables import TimelineEvent


class NotifyActivities:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        on_recorded: Callable[[TimelineEntry], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.groups = settings.approvers
        # Slack's relay, when Slack is configured: the notification is posted to the
        # incident's channel, mentioning the recipients.
        self.on_recorded = on_recorded

    @NOTIFY.implementation
    async def notify(self, notification: Notification) -> list[str]:
        """Record the notification; returns who it is for (resolved)."""
        recipients = resolve_people(notification.to, self.groups)
        await asyncio.to_thread(self._record, notification, recipients)
        if self.on_recorded is not None:
            await self.on_recorded(
                TimelineEntry(
                    incident_id=notification.incident_id,
                    kind="notification",
                    message=notification.message,
                    actor=notification.sender,
                    data={"to": ", ".join(recipients)},
                    event_key=notification.event_key,
                )
            )
        return recipients

    def _record(self, notification: Notification, recipients: list[str]) -> None:
        try:
            with self.store.transaction() as session:
                if session.scalar(
                    select(TimelineEvent.id).where(
                        TimelineEvent.event_key == notification.event_key
                    )
                ):
                    return
                session.add(
                    TimelineEvent(
                        incident_id=notification.incident_id,
                        kind="notification",
                        actor=notification.sender,
                        message=notification.message,
                        data={"to": ", ".join(recipients)},
                        event_key=notification.event_key,
                    )
                )
        except IntegrityError:
            return  # a concurrent attempt of the same activity wrote it
