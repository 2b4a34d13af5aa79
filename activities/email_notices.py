"""E-mail to responders: the delivery activity, and the timeline hook that starts it.

The hook runs inside the timeline activities the playbooks already call (beside Slack's):
for an event that is told by e-mail it starts that event's delivery workflow, whose id
names the incident and the event, so a retried timeline activity starts nothing twice.
The activity records each message it sent on the timeline (`email.sent`, keyed by the
message), so a retried delivery sends only what is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from integrations.email.messages import (
    DELIVERY_WORKFLOW,
    EMAIL_DELIVER,
    EmailDelivery,
    delivery_id,
    mail_key,
)
from integrations.email.notices import Mail, Notices, compose
from integrations.email.smtp import EmailError, SmtpSender
from smokejumper.config import Settings
from smokejumper.domain.incidents import TimelineEntry
from smokejumper.security.approval_links import link_key
from smokejumper.security.operator import operator_token
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident, TimelineEvent

log = logging.getLogger("smokejumper.email")

TimelineListener = Callable[[TimelineEntry], Awaitable[None]]
SENT = "email.sent"


def _sent_key(mail: Mail) -> str:
    return f"email:{mail.key}"


class EmailActivities:
    def __init__(self, store: Store, settings: Settings) -> None:
        assert settings.email is not None
        self.store = store
        self.settings = settings
        self.sender = SmtpSender(settings.email)
        self._notices: Notices | None = None

    @property
    def notices(self) -> Notices:
        # Read on first use: building the worker (also for `playbooks validate`) must not
        # create the operator token the links' key may derive from.
        if self._notices is None:
            key = link_key(self.settings, operator_token(self.settings, create=True))
            self._notices = Notices(self.settings, key)
        return self._notices

    @EMAIL_DELIVER.implementation
    async def email_deliver(self, delivery: EmailDelivery) -> int:
        """Send the event's mails not sent yet; returns how many were sent now."""
        pending = await asyncio.to_thread(self._pending, delivery)
        sent = 0
        failed: list[str] = []
        refused: list[str] = []
        for mail, incident in pending:
            try:
                await asyncio.to_thread(
                    self.sender.send, compose(mail, self.sender.settings, incident)
                )
            except EmailError as exc:
                (failed if exc.retryable else refused).append(str(exc))
                continue
            await asyncio.to_thread(self._record, delivery.entry.incident_id, mail)
            sent += 1
        if failed or refused:
            problem = "; ".join([*failed, *refused])
            log.warning("e-mail of %s: %s", delivery.entry.kind, problem)
            # A server that is down is tried again (those sent are recorded); a refusal is
            # not, unless something else may pass on the next attempt.
            raise ApplicationError(
                problem,
                type="EmailUnavailable" if failed else "EmailRefused",
                non_retryable=not failed,
            )
        return sent

    def _pending(self, delivery: EmailDelivery) -> list[tuple[Mail, Incident]]:
        with self.store.session() as session:
            incident = session.get(Incident, delivery.entry.incident_id)
            if incident is None:
                raise ValueError(f"incident {delivery.entry.incident_id} does not exist")
            mails = [m for m in self.notices.mails(session, delivery.entry, delivery.key) if m.to]
            done = set(
                session.scalars(
                    select(TimelineEvent.event_key).where(
                        TimelineEvent.event_key.in_([_sent_key(m) for m in mails])
                    )
                )
            )
            session.expunge(incident)
            return [(mail, incident) for mail in mails if _sent_key(mail) not in done]

    def _record(self, incident_id: int, mail: Mail) -> None:
        try:
            with self.store.transaction() as session:
                session.add(
                    TimelineEvent(
                        incident_id=incident_id,
                        kind=SENT,
                        actor=f"activity:{EMAIL_DELIVER.name}",
                        message=f"E-mailed “{mail.subject}” to {len(mail.to)} recipient(s)",
                        data={"to": ", ".join(mail.to)},
                        event_key=_sent_key(mail),
                    )
                )
        except IntegrityError:
            return  # a concurrent attempt recorded it


class EmailStarter:
    """The timeline hook: starts the delivery of each event that is told by e-mail."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.task_queue = settings.temporal.task_queue

    async def __call__(self, entry: TimelineEntry) -> None:
        key = mail_key(entry)
        if key is None:
            return
        workflow_id = await asyncio.to_thread(self._workflow_id, entry.incident_id)
        if workflow_id is None:
            log.warning("no incident %s to e-mail a %s event of", entry.incident_id, entry.kind)
            return
        try:
            await activity.client().start_workflow(
                DELIVERY_WORKFLOW,
                EmailDelivery(entry=entry, key=key),
                id=delivery_id(workflow_id, key),
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return  # this event's mail is under way or sent
        except RPCError as exc:
            if exc.status != RPCStatusCode.ALREADY_EXISTS:
                raise

    def _workflow_id(self, incident_id: int) -> str | None:
        with self.store.session() as session:
            return session.scalar(select(Incident.workflow_id).where(Incident.id == incident_id))


def _mails(settings: Settings) -> bool:
    return settings.email is not None and settings.email.notifies


def email_hook(store: Store, settings: Settings) -> TimelineListener | None:
    return EmailStarter(store, settings) if _mails(settings) else None


def email_activities(store: Store, settings: Settings) -> list[Callable[..., Any]]:
    return [EmailActivities(store, settings).email_deliver] if _mails(settings) else []


def email_workflows(settings: Settings) -> list[type]:
    """The delivery workflow, when responders are mailed."""
    if not _mails(settings):
        return []
    from integrations.email.delivery import EmailDeliveryWorkflow

    return [EmailDeliveryWorkflow]
