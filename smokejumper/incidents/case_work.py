"""Case records: who leads an incident and who works it, responders' notes, tags, links
between incidents, and merging one incident into another.

One set of functions for every surface (the API, the console, Slack, the CLI through the
API, playbooks): each write checks its input, goes on the incident's timeline and into the
audit log with the surface it came from (`via`). Notes are stored as written and leave
here masked, like every other free text a viewer reads.

Merging moves the merged incident's alerts, notes and tasks to the target and closes it
with a pointer (`merged_into`). It keeps its fingerprint's `open_key`, so the intake
sends later alerts of that fingerprint to the target while the target is open
(the intake follows the pointer). Ending the merged incident's playbook
is the caller's part (it needs Temporal): `smokejumper.api.case_work`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smokejumper.config import Settings
from smokejumper.domain.incidents import IncidentStatus
from smokejumper.incidents.service import find_incident
from smokejumper.masking import mask
from smokejumper.redaction import DEFAULT, Redactor
from smokejumper.settings.slack import SLACK_USER_ID
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.tables import (
    AlertRow,
    Base,
    Incident,
    IncidentAssignee,
    IncidentLink,
    IncidentNote,
    IncidentTag,
    TimelineEvent,
    User,
    utcnow,
)

Via = Literal[
    "console", "slack", "cli", "api", "mcp", "playbook", "email", "jira", "pagerduty", "opsgenie"
]
LinkKind = Literal["related", "duplicate", "caused_by"]
NOTE_MAX = 10_000
TAG_PATTERN = r"^[a-z0-9][a-z0-9._:-]{0,63}$"
_TAG = re.compile(TAG_PATTERN)
_SLACK_ID = re.compile(SLACK_USER_ID)
# Tasks are the tasks module's table; looked up by name so merging works with or without it.
_TASKS_TABLE = "incident_tasks"
_OVER = (IncidentStatus.RESOLVED.value, IncidentStatus.CLOSED.value)


class CaseInvalid(ValueError):
    """Input refused; `field` names what was wrong (a 422 over the API)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class CaseNotFound(LookupError):
    """No such incident (or no such assignee, tag on it); the message says which."""


class CaseConflict(Exception):
    """The request contradicts the incident's state (merge into a closed incident)."""


class NoteView(BaseModel):
    id: int
    author: str
    text: str
    via: str
    created_at: datetime


class LinkView(BaseModel):
    incident: str
    kind: str
    # "out": made on this incident; "in": another incident linked to this one.
    direction: Literal["out", "in"]


class CaseRecord(BaseModel):
    incident: str
    status: str
    commander: str | None
    assignees: list[str]
    tags: list[str]
    links: list[LinkView]
    merged_into: str | None


class MergeResult(BaseModel):
    merged: str
    into: str
    alerts_moved: int
    notes_moved: int
    tasks_moved: int
    # The merged incident's workflow id, whose run the caller ends.
    workflow_id: str


# --- who may be named ------------------------------------------------------------------


def known_responders(session: Session, settings: Settings) -> set[str]:
    """Everyone a commander or assignee may be: active users, linked Slack users, approver
    group members (by name; Slack ids mapped through `slack.users`) and the operator;
    never a disabled user."""
    names = set(session.scalars(select(User.name).where(User.disabled.is_(False))))
    names.update(settings.slack.users.values())
    names.add(settings.operator)
    for members in settings.approvers.values():
        for member in members:
            if _SLACK_ID.match(member):
                mapped = settings.slack.users.get(member)
                if mapped:
                    names.add(mapped)
            else:
                names.add(member)
    # A disabled account stays disabled, whichever list still names it.
    names -= set(session.scalars(select(User.name).where(User.disabled.is_(True))))
    return names


def _check_user(session: Session, settings: Settings, user: str, field: str) -> str:
    name = user.strip()
    if not name:
        raise CaseInvalid(field, f"{field}: give a responder's name")
    if len(name) > 200:
        raise CaseInvalid(field, f"{field}: at most 200 characters")
    if name not in known_responders(session, settings):
        raise CaseInvalid(
            field,
            f"{field}: {name!r} is not a known responder (a user, a linked Slack user or "
            "an approver group member)",
        )
    return name


def check_tag(tag: str) -> str:
    value = tag.strip().lower()
    if not _TAG.match(value):
        raise CaseInvalid(
            "tag",
            "tag: 1 to 64 characters, lowercase letters, digits and . _ : - , "
            "starting with a letter or digit",
        )
    return value


def check_note(text: str) -> str:
    if not text.strip():
        raise CaseInvalid("text", "text: the note is empty")
    if len(text) > NOTE_MAX:
        raise CaseInvalid("text", f"text: a note is at most {NOTE_MAX} characters")
    if "\x00" in text:
        raise CaseInvalid("text", "text: NUL characters cannot be stored")
    return text


# --- shared ----------------------------------------------------------------------------


def _incident(session: Session, ident: str, *, lock: bool = False) -> Incident:
    incident = find_incident(session, ident)
    if incident is None:
        raise CaseNotFound(f"no incident {ident!r}")
    if lock:
        session.refresh(incident, with_for_update=True)
    return incident


def _lock_in_order(session: Session, *incidents: Incident) -> None:
    """Lock the rows lowest id first: A with B and B with A at once (a link, a merge) then
    queue rather than deadlock."""
    for _, row in sorted({incident.id: incident for incident in incidents}.items()):
        session.refresh(row, with_for_update=True)


def _rows(result: object) -> int:
    """How many rows an UPDATE or DELETE touched."""
    return int(getattr(result, "rowcount", 0) or 0)


def ref_of(incident: Incident) -> str:
    return incident.ref or str(incident.id)


def _record(
    session: Session,
    incident: Incident,
    *,
    kind: str,
    actor: str,
    via: str,
    message: str,
    data: dict[str, object],
    event_key: str | None = None,
) -> None:
    """One change: on the incident's timeline, and in the audit log."""
    session.add(
        TimelineEvent(
            incident_id=incident.id,
            kind=kind,
            actor=actor,
            message=f"{message} via {via}",
            data={**data, "via": via},
            event_key=event_key,
        )
    )
    incident.updated_at = utcnow()
    audit.append(
        session,
        actor=actor,
        action=f"incident.{kind.replace('.', '_')}",
        subject=ref_of(incident),
        data={**data, "via": via},
        entry_key=f"case:{event_key}" if event_key else None,
    )


def case_record_of(session: Session, incident: Incident) -> CaseRecord:
    assignees = session.scalars(
        select(IncidentAssignee.user)
        .where(IncidentAssignee.incident_id == incident.id)
        .order_by(IncidentAssignee.added_at, IncidentAssignee.id)
    ).all()
    tags = session.scalars(
        select(IncidentTag.tag)
        .where(IncidentTag.incident_id == incident.id)
        .order_by(IncidentTag.tag)
    ).all()
    links: list[LinkView] = []
    for link, other in session.execute(
        select(IncidentLink, Incident)
        .join(Incident, Incident.id == IncidentLink.linked_id)
        .where(IncidentLink.incident_id == incident.id)
        .order_by(IncidentLink.id)
    ):
        links.append(LinkView(incident=ref_of(other), kind=link.kind, direction="out"))
    for link, other in session.execute(
        select(IncidentLink, Incident)
        .join(Incident, Incident.id == IncidentLink.incident_id)
        .where(IncidentLink.linked_id == incident.id)
        .order_by(IncidentLink.id)
    ):
        links.append(LinkView(incident=ref_of(other), kind=link.kind, direction="in"))
    merged_into = (
        session.get(Incident, incident.merged_into_id) if incident.merged_into_id else None
    )
    return CaseRecord(
        incident=ref_of(incident),
        status=incident.status,
        commander=incident.commander,
        assignees=list(assignees),
        tags=list(tags),
        links=links,
        merged_into=ref_of(merged_into) if merged_into is not None else None,
    )


def case_record(store: Store, ident: str) -> CaseRecord:
    with store.session() as session:
        return case_record_of(session, _incident(session, ident))


# --- commander and assignees -------------------------------------------------------------


def set_commander(
    store: Store, settings: Settings, ident: str, user: str | None, *, by: str, via: Via
) -> CaseRecord:
    """Make `user` the incident commander, or clear it (None)."""
    with store.transaction() as session:
        incident = _incident(session, ident, lock=True)
        name = _check_user(session, settings, user, "user") if user is not None else None
        previous = incident.commander
        if previous != name:
            incident.commander = name
            _record(
                session,
                incident,
                kind="commander.changed",
                actor=by,
                via=via,
                message=f"Commander {previous or 'none'} → {name or 'none'} by {by}",
                data={"from": previous, "to": name},
            )
        return case_record_of(session, incident)


def add_assignee(
    store: Store, settings: Settings, ident: str, user: str, *, by: str, via: Via
) -> CaseRecord:
    """Assign `user`; assigning someone already assigned changes nothing."""
    with store.transaction() as session:
        incident = _incident(session, ident, lock=True)
        name = _check_user(session, settings, user, "user")
        exists = session.scalar(
            select(IncidentAssignee.id).where(
                IncidentAssignee.incident_id == incident.id, IncidentAssignee.user == name
            )
        )
        if exists is None:
            session.add(IncidentAssignee(incident_id=incident.id, user=name, added_by=by, via=via))
            _record(
                session,
                incident,
                kind="assignee.added",
                actor=by,
                via=via,
                message=f"{name} assigned by {by}",
                data={"user": name},
            )
        return case_record_of(session, incident)


def remove_assignee(store: Store, ident: str, user: str, *, by: str, via: Via) -> CaseRecord:
    with store.transaction() as session:
        incident = _incident(session, ident, lock=True)
        row = session.scalars(
            select(IncidentAssignee).where(
                IncidentAssignee.incident_id == incident.id, IncidentAssignee.user == user
            )
        ).first()
        if row is None:
            raise CaseNotFound(f"{user!r} is not assigned to {ref_of(incident)}")
        session.delete(row)
        _record(
            session,
            incident,
            kind="assignee.removed",
            actor=by,
            via=via,
            message=f"{user} unassigned by {by}",
            data={"user": user},
        )
        return case_record_of(session, incident)


# --- notes -----------------------------------------------------------------------------


def _note_view(note: IncidentNote, redactor: Redactor) -> NoteView:
    return NoteView(
        id=note.id,
        author=note.author,
        text=mask(note.text, redactor),
        via=note.via,
        created_at=note.created_at,
    )


def add_note(
    store: Store,
    ident: str,
    text: str,
    *,
    author: str,
    via: Via,
    source_key: str | None = None,
    redactor: Redactor = DEFAULT,
) -> NoteView | None:
    """Add a note (stored as written, returned masked). `source_key` names where a
    captured note came from: the same key again adds nothing and returns None."""
    check_note(text)
    with store.transaction() as session:
        incident = _incident(session, ident)
        if source_key is not None and session.scalar(
            select(IncidentNote.id).where(IncidentNote.source_key == source_key)
        ):
            return None
        note = IncidentNote(
            incident_id=incident.id, author=author, text=text, via=via, source_key=source_key
        )
        try:
            with session.begin_nested():
                session.add(note)
                session.flush()
        except IntegrityError:
            # A concurrent delivery of the same Slack message won the unique key.
            return None
        _record(
            session,
            incident,
            kind="note.added",
            actor=author,
            via=via,
            # The timeline shows a masked excerpt; the note itself is read through notes_of.
            message=f"Note by {author}: {_excerpt(text)}",
            data={"note": note.id},
            event_key=f"{incident.id}:note:{note.id}",
        )
        return _note_view(note, redactor)


def _excerpt(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def notes_of(store: Store, ident: str, redactor: Redactor = DEFAULT) -> list[NoteView]:
    with store.session() as session:
        incident = _incident(session, ident)
        return notes_for(session, incident.id, redactor)


def notes_for(session: Session, incident_id: int, redactor: Redactor = DEFAULT) -> list[NoteView]:
    """An incident's notes, oldest first, masked (the report reads them here too)."""
    rows = session.scalars(
        select(IncidentNote)
        .where(IncidentNote.incident_id == incident_id)
        .order_by(IncidentNote.created_at, IncidentNote.id)
    ).all()
    return [_note_view(row, redactor) for row in rows]


# --- tags and links ----------------------------------------------------------------------


def add_tag(store: Store, ident: str, tag: str, *, by: str, via: Via) -> CaseRecord:
    value = check_tag(tag)
    with store.transaction() as session:
        incident = _incident(session, ident, lock=True)
        exists = session.scalar(
            select(IncidentTag.id).where(
                IncidentTag.incident_id == incident.id, IncidentTag.tag == value
            )
        )
        if exists is None:
            session.add(IncidentTag(incident_id=incident.id, tag=value, added_by=by))
            _record(
                session,
                incident,
                kind="tag.added",
                actor=by,
                via=via,
                message=f"Tag {value} added by {by}",
                data={"tag": value},
            )
        return case_record_of(session, incident)


def remove_tag(store: Store, ident: str, tag: str, *, by: str, via: Via) -> CaseRecord:
    value = tag.strip().lower()
    with store.transaction() as session:
        incident = _incident(session, ident, lock=True)
        removed = _rows(
            session.execute(
                delete(IncidentTag).where(
                    IncidentTag.incident_id == incident.id, IncidentTag.tag == value
                )
            )
        )
        if not removed:
            raise CaseNotFound(f"{ref_of(incident)} has no tag {value!r}")
        _record(
            session,
            incident,
            kind="tag.removed",
            actor=by,
            via=via,
            message=f"Tag {value} removed by {by}",
            data={"tag": value},
        )
        return case_record_of(session, incident)


def link(
    store: Store, ident: str, other: str, kind: LinkKind = "related", *, by: str, via: Via
) -> CaseRecord:
    """Link two incidents (recorded on both timelines); linking them again changes nothing."""
    with store.transaction() as session:
        incident = _incident(session, ident)
        target = find_incident(session, other)
        if target is None:
            raise CaseNotFound(f"no incident {other!r}")
        if target.id == incident.id:
            raise CaseInvalid("incident", "incident: an incident cannot be linked to itself")
        _lock_in_order(session, incident, target)
        exists = session.scalar(
            select(IncidentLink.id).where(
                ((IncidentLink.incident_id == incident.id) & (IncidentLink.linked_id == target.id))
                | (
                    (IncidentLink.incident_id == target.id)
                    & (IncidentLink.linked_id == incident.id)
                )
            )
        )
        if exists is None:
            session.add(
                IncidentLink(
                    incident_id=incident.id, linked_id=target.id, kind=kind, created_by=by, via=via
                )
            )
            for one, another in ((incident, target), (target, incident)):
                _record(
                    session,
                    one,
                    kind="incident.linked",
                    actor=by,
                    via=via,
                    message=f"Linked to {ref_of(another)} ({kind}) by {by}",
                    data={"incident": ref_of(another), "kind": kind},
                )
        return case_record_of(session, incident)


# --- merge -----------------------------------------------------------------------------


def merge(store: Store, ident: str, into: str, *, by: str, via: Via) -> MergeResult:
    """Merge incident `ident` into `into`: its alerts, notes and tasks move, it is closed
    with a pointer to the target. Refused: into itself, into a closed or merged incident,
    an incident already merged, or one that others were merged into (no chains)."""
    with store.transaction() as session:
        source = _incident(session, ident)
        target = find_incident(session, into)
        if target is None:
            raise CaseNotFound(f"no incident {into!r}")
        _lock_in_order(session, source, target)
        if target.id == source.id:
            raise CaseInvalid("into", "into: an incident cannot be merged into itself")
        if source.merged_into_id is not None:
            raise CaseConflict(f"{ref_of(source)} is already merged")
        if source.status == IncidentStatus.CLOSED.value:
            raise CaseConflict(f"{ref_of(source)} is closed; only an open incident is merged")
        if target.merged_into_id is not None or target.status in _OVER:
            raise CaseConflict(
                f"into: {ref_of(target)} is {target.status}; merge into an open incident"
            )
        if session.scalar(select(Incident.id).where(Incident.merged_into_id == source.id)):
            raise CaseConflict(
                f"{ref_of(source)} has incidents merged into it; merging it on would chain merges"
            )
        alerts = _rows(
            session.execute(
                update(AlertRow)
                .where(AlertRow.incident_id == source.id)
                .values(incident_id=target.id)
                .execution_options(synchronize_session=False)
            )
        )
        notes = _rows(
            session.execute(
                update(IncidentNote)
                .where(IncidentNote.incident_id == source.id)
                .values(incident_id=target.id)
                .execution_options(synchronize_session=False)
            )
        )
        tasks = 0
        tasks_table = Base.metadata.tables.get(_TASKS_TABLE)
        if tasks_table is not None:
            tasks = _rows(
                session.execute(
                    update(tasks_table)
                    .where(tasks_table.c.incident_id == source.id)
                    .values(incident_id=target.id)
                )
            )
        now = utcnow()
        target.alert_count = (
            session.scalar(
                select(func.count()).select_from(AlertRow).where(AlertRow.incident_id == target.id)
            )
            or 0
        )
        source.alert_count = 0
        previous = source.status
        source.status = IncidentStatus.CLOSED.value
        source.closed_at = now
        source.merged_into_id = target.id
        # open_key stays: the intake follows merged_into_id to the target for this fingerprint.
        data = {"merged": ref_of(source), "into": ref_of(target), "alerts": alerts, "notes": notes}
        if tasks_table is not None:
            data["tasks"] = tasks
        _record(
            session,
            source,
            kind="incident.merged",
            actor=by,
            via=via,
            message=f"Merged into {ref_of(target)} by {by} ({previous} → closed)",
            data=data,
        )
        session.add(
            TimelineEvent(
                incident_id=source.id,
                kind="incident.status",
                actor=by,
                message=f"Status {previous} → closed: merged into {ref_of(target)}",
                data={"from": previous, "to": IncidentStatus.CLOSED.value},
                event_key=f"{source.id}:merged",
            )
        )
        session.add(
            TimelineEvent(
                incident_id=target.id,
                kind="incident.merged",
                actor=by,
                message=f"{ref_of(source)} merged into this incident by {by} via {via}: "
                f"{alerts} alerts, {notes} notes, {tasks} tasks moved",
                data={**data, "via": via},
            )
        )
        target.updated_at = now
        return MergeResult(
            merged=ref_of(source),
            into=ref_of(target),
            alerts_moved=alerts,
            notes_moved=notes,
            tasks_moved=tasks,
            workflow_id=source.workflow_id,
        )
