"""Erasure reaches the case work responders add (notes, Slack-captured notes, tasks,
commander, assignees) and the audit entries those writes leave, withholds a held
incident's notes and tasks as it does its alerts, and the audit chain verifies after."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from integrations.evidence.local import LocalEvidenceStore
from smokejumper.config import Settings
from smokejumper.incidents import case_work, legal_holds, tasks
from smokejumper.store.audit import verify_chain
from smokejumper.store.db import Store
from smokejumper.store.tables import Base, IncidentNote, IncidentTask, User
from tests.retention.conftest import EMAIL, add_incident, cli

# The account itself is not the subject's data an erasure rewrites (it is how they log in).
_ACCOUNTS = {"users"}


def _mentions(store: Store, needle: str) -> list[str]:
    """Every row (table:first column) in any table that mentions `needle`."""
    found = []
    with store.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in _ACCOUNTS:
                continue
            for row in session.execute(select(table)):
                values: list[Any] = list(row)
                if needle.lower() in repr(values).lower():
                    found.append(f"{table.name}:{values[0]}")
    return found


def _case_work(store: Store, settings: Settings, ref: str, *, by: str) -> int:
    """Everything a responder named by `EMAIL` adds to `ref`; the task's id."""
    case_work.set_commander(store, settings, ref, EMAIL, by=by, via="console")
    case_work.add_assignee(store, settings, ref, EMAIL, by=by, via="console")
    case_work.add_note(
        store, ref, f"Called {EMAIL.upper()}, she confirmed", author=EMAIL, via="console"
    )
    case_work.add_note(
        store,
        ref,
        f"customer {EMAIL} says it was not her",
        author=EMAIL,
        via="slack",
        source_key=f"slack:C1:{ref}",
    )
    task = tasks.create(
        store,
        ref,
        tasks.TaskCreate(title=f"mail {EMAIL} the reset link", owner=EMAIL),
        by=EMAIL,
        via="api",
    )
    tasks.complete_task(store, ref, task.id, f"mailed {EMAIL}", by=EMAIL, via="slack")
    return task.id


def test_case_work_is_erased_and_the_chain_verifies(settings: Settings, store: Store) -> None:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    add_incident(store, evidence, 1)
    with store.transaction() as session:
        session.add(User(name=EMAIL, role="responder"))
    _case_work(store, settings, "INC-2026-0001", by="operator")
    assert _mentions(store, EMAIL)

    done = cli(settings, "erase", "--subject", "Alice.Doe@Example.COM", "--json")
    assert done.exit_code == 0, done.output

    assert _mentions(store, EMAIL) == []
    assert verify_chain(store).problems == []
    # The records themselves stay, only the subject goes.
    with store.session() as session:
        notes = list(session.scalars(select(IncidentNote).order_by(IncidentNote.id)))
        task = session.scalars(select(IncidentTask)).one()
    assert [n.text for n in notes] == [
        "Called [ERASED:email], she confirmed",
        "customer [ERASED:email] says it was not her",
    ]
    assert notes[1].source_key == "slack:C1:INC-2026-0001"
    assert (task.title, task.state, task.completion_note) == (
        "mail [ERASED:email] the reset link",
        "done",
        "mailed [ERASED:email]",
    )
    assert cli(settings, "audit", "verify").exit_code == 0


def test_a_held_incidents_notes_and_tasks_are_withheld_like_its_alerts(
    settings: Settings, store: Store
) -> None:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    add_incident(store, evidence, 1)
    add_incident(store, evidence, 2)
    with store.transaction() as session:
        session.add(User(name=EMAIL, role="responder"))
    _case_work(store, settings, "INC-2026-0001", by="operator")
    _case_work(store, settings, "INC-2026-0002", by="operator")
    legal_holds.place(
        store, "INC-2026-0002", legal_holds.HoldRequest(reason="case 7"), by="lee", via="cli"
    )

    done = cli(settings, "erase", "--subject", EMAIL, "--json")
    assert done.exit_code == 0, done.output

    with store.session() as session:
        held_rows = list(session.scalars(select(IncidentNote).where(IncidentNote.incident_id == 2)))
        held = {n.text for n in held_rows}
        held_ids = [n.id for n in held_rows]
        free = {
            n.text
            for n in session.scalars(select(IncidentNote).where(IncidentNote.incident_id == 1))
        }
        held_task = session.scalars(select(IncidentTask).where(IncidentTask.incident_id == 2)).one()
    assert all(EMAIL in text.lower() for text in held)
    assert not any(EMAIL in text.lower() for text in free)
    assert EMAIL in held_task.title
    withheld = json.loads(done.output)["withheld"]
    held_notes = sorted(held_ids)
    assert [f"note {n}: its incident is on legal hold" for n in held_notes] == [
        w for w in withheld if w.startswith("note ")
    ]
    assert f"task {held_task.id}: its incident is on legal hold" in withheld
    assert verify_chain(store).problems == []


def test_another_persons_address_that_contains_the_subject_is_left_whole(
    settings: Settings, store: Store
) -> None:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    add_incident(store, evidence, 1)
    case_work.add_note(
        store,
        "INC-2026-0001",
        f"cc jim{EMAIL}, {EMAIL}.evil.org and {EMAIL}",
        author="lee",
        via="api",
    )
    done = cli(settings, "erase", "--subject", EMAIL)
    assert done.exit_code == 0, done.output
    with store.session() as session:
        note = session.scalars(select(IncidentNote)).one()
    assert note.text == f"cc jim{EMAIL}, {EMAIL}.evil.org and [ERASED:email]"
