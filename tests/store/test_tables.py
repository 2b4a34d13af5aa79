"""Store behaviour the rest of the engine relies on, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from smokejumper.store.db import Store
from smokejumper.store.leases import acquire_or_renew
from smokejumper.store.tables import Incident, TimelineEvent


def _incident(fingerprint: str, open_key: str | None) -> Incident:
    return Incident(
        fingerprint=fingerprint,
        open_key=open_key,
        kind="prompt_injection",
        severity="high",
        title="t",
        status="open",
        playbook="triage",
        route={},
        workflow_id=f"incident-{fingerprint}",
        principal={},
        target={"endpoint": "e"},
        labels={},
        owasp=["LLM01"],
        atlas=[],
    )


def test_datetimes_come_back_timezone_aware_utc(migrated_store: Store) -> None:
    opened = datetime(2026, 11, 30, 14, 2, 11, tzinfo=UTC)
    with migrated_store.transaction() as session:
        incident = _incident("fp1", "fp1")
        incident.opened_at = opened
        session.add(incident)
    with migrated_store.session() as session:
        row = session.scalars(select(Incident)).one()
        assert row.opened_at == opened
        assert row.opened_at.tzinfo is not None
        assert row.target == {"endpoint": "e"}
        assert row.owasp == ["LLM01"]


def test_naive_datetimes_are_refused(migrated_store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        with migrated_store.transaction() as session:
            incident = _incident("fp1", "fp1")
            incident.opened_at = datetime(2026, 1, 1)
            session.add(incident)


def test_only_one_open_incident_per_fingerprint(migrated_store: Store) -> None:
    with migrated_store.transaction() as session:
        session.add(_incident("fp1", "fp1"))
    with pytest.raises(IntegrityError):
        with migrated_store.transaction() as session:
            session.add(_incident("fp1", "fp1"))
    # Closed incidents (open_key NULL) may share the fingerprint freely.
    with migrated_store.transaction() as session:
        session.add(_incident("fp1", None))
        session.add(_incident("fp1", None))
    with migrated_store.session() as session:
        assert len(session.scalars(select(Incident)).all()) == 3


def test_timeline_event_key_is_written_once(migrated_store: Store) -> None:
    with migrated_store.transaction() as session:
        incident = _incident("fp1", "fp1")
        session.add(incident)
        session.flush()
        incident_id = incident.id
    event = {"incident_id": incident_id, "kind": "k", "actor": "a", "message": "m", "data": {}}
    with migrated_store.transaction() as session:
        session.add(TimelineEvent(event_key="1:k", **event))
    with pytest.raises(IntegrityError):
        with migrated_store.transaction() as session:
            session.add(TimelineEvent(event_key="1:k", **event))


def test_scheduler_lease_has_one_holder_until_it_expires(migrated_store: Store) -> None:
    ttl = timedelta(seconds=30)
    assert acquire_or_renew(migrated_store, "scheduler", "a", ttl)
    assert not acquire_or_renew(migrated_store, "scheduler", "b", ttl)
    assert acquire_or_renew(migrated_store, "scheduler", "a", ttl)
    assert acquire_or_renew(migrated_store, "scheduler", "a", timedelta(seconds=-1))
    assert acquire_or_renew(migrated_store, "scheduler", "b", ttl)
