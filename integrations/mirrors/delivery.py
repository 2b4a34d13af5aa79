"""The relay's activity: reads the incident's timeline after the mirror's cursor and
delivers each entry once (business key `incident:system:event_key` in
`mirror_deliveries`), keeping the incident's reference in the tool.

An entry that came from the tool itself (`data.via` is the tool's name) is not sent back
to it: that is the loop guard for changes mirrored in from webhooks.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from integrations.mirrors.base import (
    OVER,
    ExternalRef,
    IncidentFacts,
    Mirror,
    MirrorEvent,
    MirrorRefused,
    MirrorUnavailable,
)
from integrations.mirrors.messages import MIRROR_DELIVER, MirrorBatch, MirrorProgress
from smokejumper.config import Settings
from smokejumper.masking import mask, mask_data
from smokejumper.store.db import Store
from smokejumper.store.tables import (
    Incident,
    IncidentExternalRef,
    IncidentNote,
    MirrorDelivery,
    TimelineEvent,
)

log = logging.getLogger("smokejumper.mirrors")

BATCH = 50


class StoredRefs:
    def __init__(self, store: Store, incident_id: int, system: str) -> None:
        self.store, self.incident_id, self.system = store, incident_id, system

    def get(self) -> ExternalRef | None:
        with self.store.session() as session:
            row = session.scalar(
                select(IncidentExternalRef).where(
                    IncidentExternalRef.incident_id == self.incident_id,
                    IncidentExternalRef.system == self.system,
                )
            )
            return None if row is None else ExternalRef(row.external_id, row.url)

    def keep(self, ref: ExternalRef) -> None:
        try:
            with self.store.transaction() as session:
                session.add(
                    IncidentExternalRef(
                        incident_id=self.incident_id,
                        system=self.system,
                        external_id=ref.external_id,
                        url=ref.url,
                    )
                )
        except IntegrityError:
            pass  # Kept by an earlier attempt.


class MirrorActivities:
    def __init__(self, store: Store, settings: Settings, mirrors: dict[str, Mirror]) -> None:
        self.store = store
        self.settings = settings
        self.mirrors = mirrors

    @MIRROR_DELIVER.implementation
    async def mirror_deliver(self, batch: MirrorBatch) -> MirrorProgress:
        """Deliver the incident's entries after `cursor` to one tool, in order."""
        mirror = self.mirrors.get(batch.system)
        if mirror is None:
            raise ApplicationError(
                f"mirror {batch.system} is not configured", type="MirrorNotConfigured"
            )
        incident, events = await asyncio.to_thread(self._read, batch)
        refs = StoredRefs(self.store, batch.incident_id, batch.system)
        cursor = batch.cursor
        for row_id, event, via in events:
            key = f"{batch.incident_id}:{batch.system}:{event.event_key}"
            if via != batch.system and not await asyncio.to_thread(self._delivered, key):
                made = await self._deliver_one(mirror, incident, event, refs)
                await asyncio.to_thread(self._record, key, batch, made)
            cursor = row_id
            activity.heartbeat(cursor)
        more = len(events) == BATCH
        # Everything up to now delivered and the incident over (closed, or merged into
        # another): the relay can end.
        return MirrorProgress(cursor=cursor, more=more, closed=not more and incident.status in OVER)

    async def _deliver_one(
        self, mirror: Mirror, incident: IncidentFacts, event: MirrorEvent, refs: StoredRefs
    ) -> str | None:
        try:
            return await mirror.deliver(incident, event, refs)
        except MirrorRefused as exc:
            # Retrying would be refused again; the entry stays on our timeline.
            log.warning(
                "%s: %s event of %s not mirrored: %s", mirror.system, event.kind, incident.ref, exc
            )
            return None
        except MirrorUnavailable as exc:
            log.warning("%s unavailable (%s): %s", mirror.system, incident.ref, exc)
            delay = None if exc.retry_after is None else timedelta(seconds=exc.retry_after)
            raise ApplicationError(
                str(exc), type="MirrorUnavailable", next_retry_delay=delay
            ) from None

    def _read(
        self, batch: MirrorBatch
    ) -> tuple[IncidentFacts, list[tuple[int, MirrorEvent, str | None]]]:
        with self.store.session() as session:
            incident = session.get(Incident, batch.incident_id)
            if incident is None:
                raise ApplicationError(
                    f"incident {batch.incident_id} does not exist", non_retryable=True
                )
            rows = session.scalars(
                select(TimelineEvent)
                .where(
                    TimelineEvent.incident_id == batch.incident_id,
                    TimelineEvent.id > batch.cursor,
                )
                .order_by(TimelineEvent.id)
                .limit(BATCH)
            ).all()
            facts = IncidentFacts(
                incident_id=incident.id,
                ref=incident.ref or str(incident.id),
                title=mask(incident.title),
                kind=incident.kind,
                severity=incident.severity,
                status=incident.status,
                url=f"{self.settings.api_url.rstrip('/')}/incidents/{incident.ref}",
                opened_at=incident.opened_at,
            )
            events = [
                (
                    row.id,
                    MirrorEvent(
                        kind=row.kind,
                        message=mask(row.message),
                        actor=mask(row.actor),
                        event_key=row.event_key or f"row:{row.id}",
                        data=self._with_note(session, row),
                    ),
                    _via(row.data),
                )
                for row in rows
            ]
            return facts, events

    @staticmethod
    def _with_note(session: Session, row: TimelineEvent) -> dict[str, Any]:
        """The entry's data, masked; a note's whole text (masked) for the tools that take
        notes (the timeline holds an excerpt)."""
        data = _masked(row.data)
        note_id = data.get("note")
        if row.kind == "note.added" and isinstance(note_id, int):
            text = session.scalar(select(IncidentNote.text).where(IncidentNote.id == note_id))
            if text is not None:
                data["text"] = mask(text)
        return data

    def _delivered(self, key: str) -> bool:
        with self.store.session() as session:
            found = session.scalar(select(MirrorDelivery.id).where(MirrorDelivery.key == key))
            return found is not None

    def _record(self, key: str, batch: MirrorBatch, made: str | None) -> None:
        try:
            with self.store.transaction() as session:
                session.add(
                    MirrorDelivery(
                        key=key,
                        incident_id=batch.incident_id,
                        system=batch.system,
                        external_id=made,
                    )
                )
        except IntegrityError:
            pass  # A concurrent attempt recorded it.


def _masked(data: Any) -> dict[str, Any]:
    masked = mask_data(dict(data or {}))
    return masked if isinstance(masked, dict) else {}


def _via(data: Any) -> str | None:
    value = (data or {}).get("via") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
