"""Two responders at once: completing one task twice, merging two incidents into each other,
acknowledging twice. One wins; the other gets the refusal a single late request gets, never a
server error, and the record holds one outcome."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from smokejumper.incidents import case_work, slas, tasks
from smokejumper.incidents.case_work import CaseConflict
from smokejumper.incidents.slas import AcknowledgeRefused
from smokejumper.incidents.tasks import TaskCreate, TaskRefused
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident, IncidentLink, TimelineEvent
from tests.helpers import insert_incident

# SQLite has one writer at a time; PostgreSQL's concurrent transactions are where these race.
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _at_once(calls: list[Callable[[], Any]]) -> list[object]:
    """Run the calls in threads released together; each one's result or exception."""
    gate = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        gate.wait()
        try:
            outcomes[index] = call()
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


@ON_POSTGRES
@pytest.mark.parametrize("attempt", range(2))
def test_a_task_completed_twice_at_once_is_done_once(migrated_store: Store, attempt: int) -> None:
    incident = insert_incident(migrated_store, playbook="p", fingerprint=uuid.uuid4().hex)
    task = tasks.create(
        migrated_store, incident.ref, TaskCreate(title="rotate"), by="dana", via="api"
    )
    outcomes = _at_once(
        [
            lambda who=who: tasks.complete_task(  # type: ignore[misc]
                migrated_store, incident.ref, task.id, f"by {who}", by=who, via="api"
            )
            for who in ("dana", "erin")
        ]
    )
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1, outcomes
    assert isinstance(refused[0], TaskRefused), refused
    with migrated_store.session() as session:
        done = session.scalar(
            select(func.count())
            .select_from(TimelineEvent)
            .where(TimelineEvent.kind == "task.completed")
            .where(TimelineEvent.incident_id == incident.incident_id)
        )
    assert done == 1


@ON_POSTGRES
@pytest.mark.parametrize("attempt", range(4))
def test_two_incidents_merged_into_each_other_at_once(migrated_store: Store, attempt: int) -> None:
    one = insert_incident(migrated_store, playbook="p", fingerprint=uuid.uuid4().hex)
    two = insert_incident(migrated_store, playbook="p", fingerprint=uuid.uuid4().hex)
    outcomes = _at_once(
        [
            lambda: case_work.merge(migrated_store, one.ref, two.ref, by="dana", via="api"),
            lambda: case_work.merge(migrated_store, two.ref, one.ref, by="erin", via="api"),
        ]
    )
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1, outcomes
    assert isinstance(refused[0], CaseConflict), refused
    with migrated_store.session() as session:
        merged = session.scalars(
            select(Incident.ref).where(
                Incident.id.in_([one.incident_id, two.incident_id]),
                Incident.merged_into_id.is_not(None),
            )
        ).all()
    assert len(merged) == 1


@ON_POSTGRES
def test_acknowledged_twice_at_once(migrated_store: Store) -> None:
    incident = insert_incident(migrated_store, playbook="p", fingerprint=uuid.uuid4().hex)
    outcomes = _at_once(
        [
            lambda who=who: slas.acknowledge(  # type: ignore[misc]
                migrated_store, incident.ref, by=who, via="api"
            )
            for who in ("dana", "erin")
        ]
    )
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], AcknowledgeRefused), outcomes


@ON_POSTGRES
@pytest.mark.parametrize("attempt", range(3))
def test_two_incidents_linked_to_each_other_at_once_are_linked_once(
    migrated_store: Store, attempt: int
) -> None:
    one = insert_incident(migrated_store, playbook="p", fingerprint=uuid.uuid4().hex)
    two = insert_incident(migrated_store, playbook="p", fingerprint=uuid.uuid4().hex)
    outcomes = _at_once(
        [
            lambda: case_work.link(migrated_store, one.ref, two.ref, by="dana", via="api"),
            lambda: case_work.link(migrated_store, two.ref, one.ref, by="erin", via="api"),
        ]
    )
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with migrated_store.session() as session:
        links = session.scalar(select(func.count()).select_from(IncidentLink))
    assert links == 1
    assert [link.direction for link in case_work.case_record(migrated_store, one.ref).links] in (
        ["out"],
        ["in"],
    )
