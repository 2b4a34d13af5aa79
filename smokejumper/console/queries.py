"""What the console pages read from the store."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from statistics import fmean

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from smokejumper.domain.alerts import Severity
from smokejumper.store.tables import (
    Action,
    AuditEntry,
    DeadLetter,
    Incident,
    InventoryApiKey,
    InventoryEndpoint,
    InventoryLink,
    InventoryModel,
    InventoryModelVersion,
    TimelineEvent,
)

SORTS = {
    "newest": (Incident.id.desc(),),
    "oldest": (Incident.id.asc(),),
    "updated": (Incident.updated_at.desc(), Incident.id.desc()),
    "severity": (
        case({severity.value: -severity.rank for severity in Severity}, value=Incident.severity),
        Incident.id.desc(),
    ),
}
PAGE = 50


@dataclass
class IncidentFilter:
    status: str | None = None
    severity: str | None = None
    kind: str | None = None
    playbook: str | None = None
    q: str | None = None
    sort: str = "newest"

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        for column, value in (
            (Incident.status, self.status),
            (Incident.severity, self.severity),
            (Incident.kind, self.kind),
            (Incident.playbook, self.playbook),
        ):
            if value:
                found.append(column == value)
        if self.q:
            # autoescape: a `%` or `_` searched for is that character, not a wildcard.
            wanted = self.q.strip().lower()
            found.append(
                or_(
                    func.lower(Incident.title).contains(wanted, autoescape=True),
                    func.lower(Incident.ref).contains(wanted, autoescape=True),
                    func.lower(Incident.fingerprint).contains(wanted, autoescape=True),
                )
            )
        return found


@dataclass
class ResponseTimes:
    """Mean time to acknowledge and to resolve (or close) over a set of incidents."""

    mtta_seconds: float | None
    mttr_seconds: float | None
    acknowledged: int
    resolved: int


@dataclass
class IncidentList:
    rows: list[Incident]
    total: int
    times: ResponseTimes
    kinds: list[str] = field(default_factory=list)
    playbooks: list[str] = field(default_factory=list)


def response_times(session: Session, chosen: IncidentFilter) -> ResponseTimes:
    rows = session.execute(
        select(
            Incident.opened_at,
            Incident.acknowledged_at,
            Incident.resolved_at,
            Incident.closed_at,
        ).where(*chosen.conditions())
    ).all()
    to_ack = [(ack - opened).total_seconds() for opened, ack, _, _ in rows if ack is not None]
    done = [(opened, resolved or closed) for opened, _, resolved, closed in rows]
    to_resolve = [(end - opened).total_seconds() for opened, end in done if end is not None]
    return ResponseTimes(
        mtta_seconds=fmean(to_ack) if to_ack else None,
        mttr_seconds=fmean(to_resolve) if to_resolve else None,
        acknowledged=len(to_ack),
        resolved=len(to_resolve),
    )


def incident_list(session: Session, chosen: IncidentFilter, offset: int) -> IncidentList:
    query = select(Incident).where(*chosen.conditions())
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = SORTS.get(chosen.sort, SORTS["newest"])
    rows = list(session.scalars(query.order_by(*order).limit(PAGE).offset(offset)).all())
    return IncidentList(
        rows=rows,
        total=total,
        times=response_times(session, chosen),
        kinds=sorted(session.scalars(select(Incident.kind).distinct()).all()),
        playbooks=sorted(
            p for p in session.scalars(select(Incident.playbook).distinct()).all() if p
        ),
    )


@dataclass(frozen=True)
class CastVote:
    actor: str
    approved: bool
    via: str
    at: datetime


@dataclass(frozen=True)
class PendingStep:
    step: str
    question: str
    approvers: str
    requested_at: datetime
    # A hand-off (a failed step put to people): its answers instead of approve/deny.
    choices: tuple[str, ...] = ()
    min_approvals: int = 1
    votes: tuple[CastVote, ...] = ()

    @property
    def approvals(self) -> int:
        return sum(1 for vote in self.votes if vote.approved)


def _vote(event: TimelineEvent) -> CastVote:
    # The playbook words a vote "<actor> approved|denied <step> via <surface>[: reason]".
    head = event.message.split(": ", 1)[0]
    approved = head.startswith(f"{event.actor} approved ")
    via = head.rsplit(" via ", 1)[-1] if " via " in head else ""
    return CastVote(actor=event.actor, approved=approved, via=via, at=event.at)


def approval_requests(session: Session, incident_id: int) -> dict[str, PendingStep]:
    """Each approval step's request as the timeline recorded it (question, approvers, how
    many approvals it needs) with the votes cast on it since."""
    events = session.scalars(
        select(TimelineEvent)
        .where(
            TimelineEvent.incident_id == incident_id,
            TimelineEvent.kind.in_(("approval.requested", "approval.vote")),
        )
        .order_by(TimelineEvent.at, TimelineEvent.id)
    ).all()
    found: dict[str, PendingStep] = {}
    for event in events:
        if event.step is None:
            continue
        if event.kind == "approval.vote":
            asked = found.get(event.step)
            if asked is not None:
                found[event.step] = replace(asked, votes=(*asked.votes, _vote(event)))
            continue
        question = event.message.split(": ", 1)[-1]
        try:
            needed = max(1, int(event.data.get("min_approvals") or 1))
        except (TypeError, ValueError):
            needed = 1
        found[event.step] = PendingStep(
            step=event.step,
            question=question,
            approvers=str(event.data.get("approvers", "")),
            requested_at=event.at,
            choices=tuple(
                c.strip() for c in str(event.data.get("choices") or "").split(",") if c.strip()
            ),
            min_approvals=needed,
        )
    return found


def status_counts(session: Session) -> dict[str, int]:
    """How many incidents are in each status, for the list's status row."""
    rows = session.execute(select(Incident.status, func.count()).group_by(Incident.status)).all()
    return {str(status): int(count) for status, count in rows}


def actions_of(session: Session, incident_id: int) -> list[Action]:
    return list(
        session.scalars(
            select(Action).where(Action.incident_id == incident_id).order_by(Action.started_at)
        ).all()
    )


def audit_page(
    session: Session, *, actor: str | None, action: str | None, subject: str | None, offset: int
) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if subject:
        query = query.where(AuditEntry.subject == subject)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(PAGE).offset(offset)).all()
    return list(rows), total


def dead_letters(session: Session, offset: int) -> tuple[list[DeadLetter], int]:
    total = session.scalar(select(func.count()).select_from(DeadLetter)) or 0
    rows = session.scalars(
        select(DeadLetter).order_by(DeadLetter.received_at.desc()).limit(PAGE).offset(offset)
    ).all()
    return list(rows), total


@dataclass
class Inventory:
    models: list[tuple[InventoryModel, list[InventoryModelVersion]]]
    endpoints: list[tuple[InventoryEndpoint, str]]
    keys: list[InventoryApiKey]
    links: list[InventoryLink]


def inventory(session: Session) -> Inventory:
    versions: dict[int, list[InventoryModelVersion]] = {}
    labels: dict[int, str] = {}
    models = session.scalars(select(InventoryModel).order_by(InventoryModel.name)).all()
    names = {model.id: model.name for model in models}
    for version in session.scalars(
        select(InventoryModelVersion).order_by(InventoryModelVersion.created_at)
    ):
        versions.setdefault(version.model_id, []).append(version)
        labels[version.id] = f"{names.get(version.model_id, '?')}@{version.version}"
    endpoints = session.scalars(select(InventoryEndpoint).order_by(InventoryEndpoint.name)).all()
    return Inventory(
        models=[(model, versions.get(model.id, [])) for model in models],
        endpoints=[
            (endpoint, labels.get(endpoint.model_version_id or -1, "—")) for endpoint in endpoints
        ],
        keys=list(session.scalars(select(InventoryApiKey).order_by(InventoryApiKey.key_id))),
        links=list(session.scalars(select(InventoryLink).order_by(InventoryLink.id))),
    )
