"""The case work an incident page shows (commander, assignees, tags, links, notes, tasks),
read through the services every surface uses."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from smokejumper.incidents import case_work, tasks
from smokejumper.incidents.case_work import LinkView, NoteView
from smokejumper.incidents.tasks import TaskView
from smokejumper.redaction import Redactor
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident


@dataclass
class CaseView:
    commander: str | None = None
    assignees: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    links: list[LinkView] = field(default_factory=list)
    merged_into: str | None = None
    notes: list[NoteView] = field(default_factory=list)
    tasks: list[TaskView] = field(default_factory=list)


def case_of(session: Session, store: Store, incident: Incident, redactor: Redactor) -> CaseView:
    record = case_work.case_record_of(session, incident)
    return CaseView(
        commander=record.commander,
        assignees=record.assignees,
        tags=record.tags,
        links=record.links,
        merged_into=record.merged_into,
        notes=case_work.notes_for(session, incident.id, redactor),
        tasks=tasks.tasks_of(store, case_work.ref_of(incident), redactor=redactor),
    )
