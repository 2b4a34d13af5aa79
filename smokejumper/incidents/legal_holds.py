"""Legal holds and the deletion of evidence: retention and purges delete nothing held.

A hold covers one evidence item, or every item of an incident (those captured later
included). Placing and releasing are audited; released holds stay as the record. Evidence
is deleted only here, by retention (items captured before the cutoff, of closed incidents)
or by a purge of one incident (all or nothing: a purge that meets a hold deletes nothing).
Each deletion is an audit entry of its own. The evidence store is content-addressed, so
an object is removed only once no remaining row points at it; the store that removes it
is passed in by the process, since stores live in `integrations/`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from smokejumper.domain.incidents import IncidentStatus
from smokejumper.incidents.service import find_incident
from smokejumper.masking import mask
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.leases import Fence
from smokejumper.store.tables import ROW_ID_MAX, EvidenceItem, Incident, LegalHold, utcnow

log = logging.getLogger(__name__)

EvidenceDeleter = Callable[[str], None]
RETENTION = "retention"
REASON_MAX = 2_000
# Only evidence of incidents that are over is old enough to go.
_OVER = (IncidentStatus.RESOLVED.value, IncidentStatus.CLOSED.value)


class HoldRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=REASON_MAX, description="Why it is held.")
    evidence_id: int | None = Field(
        default=None,
        ge=1,
        le=ROW_ID_MAX,
        description="One item; unset: every item of the incident.",
    )


class ReleaseRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=REASON_MAX)


class PurgeRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=REASON_MAX)


class HoldView(BaseModel):
    id: int
    incident: str
    evidence_id: int | None
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str | None
    released_at: datetime | None
    release_reason: str | None

    @property
    def active(self) -> bool:
        return self.released_at is None


class HoldNotFound(LookupError):
    """No such incident, evidence item or hold; the message says which."""


class HoldRefused(ValueError):
    """The request cannot be carried out as asked (a hold already released)."""


class EvidenceHeld(Exception):
    """A purge met a legal hold: nothing was deleted. `holds` says which."""

    def __init__(self, incident: str, holds: list[HoldView]) -> None:
        self.holds = holds
        which = ", ".join(
            f"#{h.id} ({'the incident' if h.evidence_id is None else f'evidence {h.evidence_id}'}"
            f", by {h.placed_by})"
            for h in holds
        )
        super().__init__(f"{incident}: evidence is on legal hold ({which}); nothing was deleted")


@dataclass
class Deletion:
    """What a retention run or a purge did."""

    deleted: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    objects_removed: int = 0
    object_errors: list[str] = field(default_factory=list)


def _view(hold: LegalHold, ref: str) -> HoldView:
    return HoldView(
        id=hold.id,
        incident=ref,
        evidence_id=hold.evidence_id,
        reason=mask(hold.reason),
        placed_by=hold.placed_by,
        placed_at=hold.placed_at,
        released_by=hold.released_by,
        released_at=hold.released_at,
        release_reason=mask(hold.release_reason) if hold.release_reason else None,
    )


def _incident(session: Session, ident: str) -> Incident:
    incident = find_incident(session, ident)
    if incident is None:
        raise HoldNotFound(f"no incident {ident!r}")
    return incident


def _ref(incident: Incident) -> str:
    return incident.ref or str(incident.id)


def place(store: Store, ident: str, request: HoldRequest, *, by: str, via: str) -> HoldView:
    with store.transaction() as session:
        incident = _incident(session, ident)
        if request.evidence_id is not None:
            item = session.get(EvidenceItem, request.evidence_id)
            if item is None or item.incident_id != incident.id:
                raise HoldNotFound(f"{_ref(incident)} has no evidence {request.evidence_id}")
        hold = LegalHold(
            incident_id=incident.id,
            evidence_id=request.evidence_id,
            reason=request.reason,
            placed_by=by,
        )
        session.add(hold)
        session.flush()
        audit.append(
            session,
            actor=by,
            action="evidence.hold_placed",
            subject=_ref(incident),
            data={"hold": hold.id, "evidence_id": request.evidence_id, "via": via},
        )
        return _view(hold, _ref(incident))


def release(
    store: Store, ident: str, hold_id: int, request: ReleaseRequest, *, by: str, via: str
) -> HoldView:
    with store.transaction() as session:
        incident = _incident(session, ident)
        hold = session.get(LegalHold, hold_id)
        if hold is None or hold.incident_id != incident.id:
            raise HoldNotFound(f"{_ref(incident)} has no legal hold {hold_id}")
        if hold.released_at is not None:
            raise HoldRefused(f"legal hold {hold_id} was released by {hold.released_by}")
        hold.released_by = by
        hold.released_at = utcnow()
        hold.release_reason = request.reason
        audit.append(
            session,
            actor=by,
            action="evidence.hold_released",
            subject=_ref(incident),
            data={"hold": hold.id, "evidence_id": hold.evidence_id, "via": via},
        )
        return _view(hold, _ref(incident))


def holds_of(store: Store, ident: str) -> list[HoldView]:
    with store.session() as session:
        incident = _incident(session, ident)
        rows = session.scalars(
            select(LegalHold).where(LegalHold.incident_id == incident.id).order_by(LegalHold.id)
        ).all()
        return [_view(hold, _ref(incident)) for hold in rows]


def _active_holds(session: Session, incident_ids: Sequence[int]) -> list[LegalHold]:
    return list(
        session.scalars(
            select(LegalHold).where(
                LegalHold.incident_id.in_(incident_ids), LegalHold.released_at.is_(None)
            )
        )
    )


def _is_held(item: EvidenceItem, holds: list[LegalHold]) -> bool:
    return any(
        h.incident_id == item.incident_id and h.evidence_id in (None, item.id) for h in holds
    )


def purge(
    store: Store,
    ident: str,
    request: PurgeRequest,
    delete_object: EvidenceDeleter,
    *,
    by: str,
    via: str,
) -> Deletion:
    """Delete every evidence item of one incident, or, if any is held, nothing."""
    with store.transaction() as session:
        incident = _incident(session, ident)
        items = list(
            session.scalars(select(EvidenceItem).where(EvidenceItem.incident_id == incident.id))
        )
        holds = _active_holds(session, [incident.id])
        if holds:
            raise EvidenceHeld(_ref(incident), [_view(h, _ref(incident)) for h in holds])
        done = Deletion(deleted=[i.id for i in items])
        uris = _delete_rows(session, items, actor=by, why=f"purge: {mask(request.reason)}", via=via)
    return _remove_objects(store, uris, delete_object, done)


def apply_retention(
    store: Store,
    cutoff: datetime,
    delete_object: EvidenceDeleter,
    *,
    batch: int = 500,
    fence: Fence | None = None,
) -> Deletion:
    """Delete evidence captured before `cutoff` of incidents that are resolved or closed,
    except what a legal hold keeps. With a `fence`, each batch only while its lease term
    lasts (leases.StaleLeader otherwise)."""
    done = Deletion()
    after = 0
    while True:
        with store.transaction() as session:
            if fence is not None:
                fence.check(session)
            items = list(
                session.scalars(
                    select(EvidenceItem)
                    .join(Incident, Incident.id == EvidenceItem.incident_id)
                    .where(EvidenceItem.captured_at < cutoff, Incident.status.in_(_OVER))
                    .where(EvidenceItem.id > after)
                    .order_by(EvidenceItem.id)
                    .limit(batch)
                )
            )
            if not items:
                return done
            after = items[-1].id
            holds = _active_holds(session, sorted({i.incident_id for i in items}))
            going = [i for i in items if not _is_held(i, holds)]
            done.held.extend(i.id for i in items if _is_held(i, holds))
            done.deleted.extend(i.id for i in going)
            uris = _delete_rows(session, going, actor=RETENTION, why="retention", via="scheduler")
        _remove_objects(store, uris, delete_object, done)
        if len(items) < batch:
            return done


def _delete_rows(
    session: Session, items: list[EvidenceItem], *, actor: str, why: str, via: str
) -> list[str]:
    """Delete the rows, one audit entry each; the URIs no remaining row points at."""
    refs = {
        incident_id: ref
        for incident_id, ref in session.execute(
            select(Incident.id, Incident.ref).where(
                Incident.id.in_({item.incident_id for item in items})
            )
        ).all()
    }
    for item in items:
        audit.append(
            session,
            actor=actor,
            action="evidence.deleted",
            subject=refs.get(item.incident_id) or str(item.incident_id),
            data={
                "evidence_id": item.id,
                "name": item.name,
                "kind": item.kind,
                "sha256": item.sha256,
                "size": item.size,
                "why": why,
                "via": via,
            },
        )
        session.delete(item)
    session.flush()
    uris = {item.uri for item in items}
    if not uris:
        return []
    still = set(session.scalars(select(EvidenceItem.uri).where(EvidenceItem.uri.in_(uris))).all())
    return sorted(uris - still)


def _remove_objects(
    store: Store, uris: list[str], delete_object: EvidenceDeleter, done: Deletion
) -> Deletion:
    # After the commit: an object left behind by a failed delete is an orphan the next
    # run does not see, but no row ever points at an object that is gone.
    for uri in uris:
        try:
            delete_object(uri)
            done.objects_removed += 1
        except Exception as exc:
            done.object_errors.append(f"{uri}: {type(exc).__name__}: {exc}")
            log.warning("evidence object %s not removed: %s", uri, type(exc).__name__)
    return done
