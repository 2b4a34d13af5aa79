"""Retention of what intake stored: alert bodies as received, and dead letters.

"Raw alert" means the body as received (`alerts.raw`): it is emptied, and `raw_deleted_at`
set, once it is older than `retention.raw_alerts_days`. The normalised record the incident
works from (`alerts.normalized`, the title, times, fingerprint) stays as long as the
incident. Dead letters, rejected input no incident refers to, are deleted whole after
`retention.dead_letters_days`. An incident with an active legal hold (on any of its
evidence or on all of it) keeps its alerts' bodies, as does the incident it was merged
into (which now holds them), and a dead letter replayed into such an incident is kept
too. Each batch is one audit entry: counts and ids, never content.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.tables import AlertRow, DeadLetter, Incident, LegalHold, utcnow

RETENTION = "retention"
# Called at the start of every batch's transaction: the scheduler's lease fence, which
# raises when this process no longer leads.
Guard = Callable[[Session], None]


@dataclass
class Swept:
    """What one retention run did: ids deleted, ids kept for a legal hold."""

    deleted: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


def _held_incidents(session: Session, incident_ids: Sequence[int | None]) -> set[int]:
    wanted = {i for i in incident_ids if i is not None}
    if not wanted:
        return set()
    held = set(
        session.scalars(
            select(LegalHold.incident_id).where(
                LegalHold.incident_id.in_(wanted), LegalHold.released_at.is_(None)
            )
        )
    )
    # A merge moves a held incident's alerts to the target; the hold goes with them (to
    # all the target's alerts, since an alert does not record where it came from).
    held.update(
        session.scalars(
            select(Incident.merged_into_id)
            .join(LegalHold, LegalHold.incident_id == Incident.id)
            .where(Incident.merged_into_id.in_(wanted), LegalHold.released_at.is_(None))
        )
    )
    return held


def delete_raw_alerts(
    store: Store, cutoff: datetime, *, guard: Guard | None = None, batch: int = 500
) -> Swept:
    """Empty the bodies of alerts received before `cutoff`, except a held incident's."""
    done = Swept()
    after = ""
    while True:
        with store.transaction() as session:
            if guard is not None:
                guard(session)
            rows = session.execute(
                select(AlertRow.id, AlertRow.incident_id)
                .where(
                    AlertRow.received_at < cutoff,
                    AlertRow.raw_deleted_at.is_(None),
                    AlertRow.id > after,
                )
                .order_by(AlertRow.id)
                .limit(batch)
            ).all()
            if not rows:
                return done
            after = rows[-1][0]
            held = _held_incidents(session, [incident for _, incident in rows])
            going = [alert_id for alert_id, incident in rows if incident not in held]
            kept = [alert_id for alert_id, incident in rows if incident in held]
            done.deleted.extend(going)
            done.held.extend(kept)
            if going:
                session.execute(
                    update(AlertRow)
                    .where(AlertRow.id.in_(going))
                    .values(raw="", raw_deleted_at=utcnow())
                )
                audit.append(
                    session,
                    actor=RETENTION,
                    action="retention.alert_bodies_deleted",
                    subject="alerts",
                    data={
                        "count": len(going),
                        "alert_ids": going,
                        "kept_on_legal_hold": len(kept),
                        "received_before": cutoff.isoformat(),
                        "via": "scheduler",
                    },
                )
        if len(rows) < batch:
            return done


def delete_dead_letters(
    store: Store, cutoff: datetime, *, guard: Guard | None = None, batch: int = 500
) -> Swept:
    """Delete dead letters received before `cutoff`, except those replayed into a held
    incident."""
    done = Swept()
    after = ""
    while True:
        with store.transaction() as session:
            if guard is not None:
                guard(session)
            rows = session.execute(
                select(DeadLetter.id, AlertRow.incident_id)
                .outerjoin(AlertRow, AlertRow.id == DeadLetter.replay_alert_id)
                .where(DeadLetter.received_at < cutoff, DeadLetter.id > after)
                .order_by(DeadLetter.id)
                .limit(batch)
            ).all()
            if not rows:
                return done
            after = rows[-1][0]
            held = _held_incidents(session, [incident for _, incident in rows])
            going = [letter for letter, incident in rows if incident not in held]
            kept = [letter for letter, incident in rows if incident in held]
            done.deleted.extend(going)
            done.held.extend(kept)
            if going:
                session.execute(delete(DeadLetter).where(DeadLetter.id.in_(going)))
                audit.append(
                    session,
                    actor=RETENTION,
                    action="retention.dead_letters_deleted",
                    subject="dead_letters",
                    data={
                        "count": len(going),
                        "dead_letter_ids": going,
                        "kept_on_legal_hold": len(kept),
                        "received_before": cutoff.isoformat(),
                        "via": "scheduler",
                    },
                )
        if len(rows) < batch:
            return done
