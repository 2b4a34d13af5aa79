"""Which mirrors are configured, and how a worker runs them: the relay workflow, its
activity, and the timeline hook that pokes the relays (signal-with-start)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from temporalio import activity
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from integrations.mirrors.base import Mirror
from integrations.mirrors.messages import (
    MIRROR_RELAY_WORKFLOW,
    SIGNAL_POKE,
    MirrorStart,
    mirror_relay_id,
)
from smokejumper.config import Settings
from smokejumper.domain.incidents import TimelineEntry
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident

log = logging.getLogger("smokejumper.mirrors")

TimelineListener = Callable[[TimelineEntry], Awaitable[None]]


def configured(settings: Settings) -> dict[str, float]:
    """Each configured mirror's name and how often its relay polls."""
    sections = {
        "pagerduty": settings.pagerduty,
        "opsgenie": settings.opsgenie,
        "jira": settings.jira,
        "teams": settings.teams,
    }
    return {name: s.sync_seconds for name, s in sections.items() if s is not None}


def build_mirrors(settings: Settings) -> dict[str, Mirror]:
    from integrations.mirrors.jira import JiraMirror
    from integrations.mirrors.opsgenie import OpsgenieMirror
    from integrations.mirrors.pagerduty import PagerDutyMirror
    from integrations.mirrors.teams import TeamsMirror

    mirrors: dict[str, Mirror] = {}
    if settings.pagerduty is not None:
        mirrors["pagerduty"] = PagerDutyMirror(settings.pagerduty)
    if settings.opsgenie is not None:
        mirrors["opsgenie"] = OpsgenieMirror(settings.opsgenie)
    if settings.jira is not None:
        mirrors["jira"] = JiraMirror(settings.jira)
    if settings.teams is not None:
        mirrors["teams"] = TeamsMirror(settings.teams)
    return mirrors


class MirrorPoker:
    """The timeline hook: pokes (and starts, the first time) each mirror's relay of the
    incident. Never raises for a relay that has finished (a closed incident)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.task_queue = settings.temporal.task_queue
        self.systems = configured(settings)

    async def __call__(self, entry: TimelineEntry) -> None:
        workflow_id = await asyncio.to_thread(self._workflow_id, entry.incident_id)
        if workflow_id is None:
            return
        for system, poll in self.systems.items():
            try:
                await activity.client().start_workflow(
                    MIRROR_RELAY_WORKFLOW,
                    MirrorStart(incident_id=entry.incident_id, system=system, poll_seconds=poll),
                    id=mirror_relay_id(system, workflow_id, entry.incident_id),
                    task_queue=self.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                    start_signal=SIGNAL_POKE,
                )
            except WorkflowAlreadyStartedError:
                continue
            except RPCError as exc:
                if exc.status != RPCStatusCode.ALREADY_EXISTS:
                    raise

    def _workflow_id(self, incident_id: int) -> str | None:
        with self.store.session() as session:
            return session.scalar(select(Incident.workflow_id).where(Incident.id == incident_id))


def chain(*listeners: TimelineListener | None) -> TimelineListener | None:
    """One hook calling each given listener in turn (None when there is none)."""
    present = [listener for listener in listeners if listener is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    async def each(entry: TimelineEntry) -> None:
        for listener in present:
            await listener(entry)

    return each


def mirror_hook(store: Store, settings: Settings) -> TimelineListener | None:
    return MirrorPoker(store, settings) if configured(settings) else None


def mirror_workflows(settings: Settings) -> list[type]:
    if not configured(settings):
        return []
    from integrations.mirrors.relay import MirrorRelay

    return [MirrorRelay]


def mirror_activities(store: Store, settings: Settings) -> list[Callable[..., Any]]:
    if not configured(settings):
        return []
    from integrations.mirrors.delivery import MirrorActivities

    return [MirrorActivities(store, settings, build_mirrors(settings)).mirror_deliver]
