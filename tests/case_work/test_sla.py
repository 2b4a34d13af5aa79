"""Service levels per severity, on SQLite and PostgreSQL: a reminder before a target and a
breach at it, each written once, met by acknowledging; breaches counted in the metrics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from smokejumper.domain.alerts import Severity
from smokejumper.incidents import slas
from smokejumper.metrics import StoreCollector
from smokejumper.settings.slas import SlaPolicy
from smokejumper.store.db import Store
from smokejumper.store.tables import TimelineEvent
from tests.helpers import insert_incident

POLICIES = {
    Severity.HIGH: SlaPolicy(
        acknowledge_minutes=15, contain_minutes=60, remind_before_minutes=5, escalate_to=["dana"]
    )
}
OPENED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _kinds(store: Store, incident_id: int) -> list[str]:
    with store.session() as session:
        return [
            e.kind
            for e in session.query(TimelineEvent)
            .filter(TimelineEvent.incident_id == incident_id, TimelineEvent.kind.like("sla.%"))
            .order_by(TimelineEvent.id)
        ]


def test_reminded_then_breached_once_each(migrated_store: Store) -> None:
    store = migrated_store
    late = insert_incident(store, playbook="p", opened_at=OPENED, fingerprint=uuid.uuid4().hex)
    on_time = insert_incident(store, playbook="p", opened_at=OPENED, fingerprint=uuid.uuid4().hex)

    assert slas.check_slas(store, POLICIES, OPENED + timedelta(minutes=9)) == []
    slas.acknowledge(store, on_time.ref, by="alice", via="api")
    reminded = slas.check_slas(store, POLICIES, OPENED + timedelta(minutes=11))
    assert [(e.incident_id, e.kind) for e in reminded] == [(late.incident_id, "sla.reminded")]
    breached = slas.check_slas(store, POLICIES, OPENED + timedelta(minutes=16))
    assert [(e.kind, e.data["sla"]) for e in breached] == [("sla.breached", "acknowledge")]
    assert "dana" in breached[0].message
    # Every scheduler tick after that writes nothing new for the same target.
    assert slas.check_slas(store, POLICIES, OPENED + timedelta(minutes=17)) == []
    later = slas.check_slas(store, POLICIES, OPENED + timedelta(hours=2))
    assert sorted((e.incident_id, e.data["sla"]) for e in later) == sorted(
        [(late.incident_id, "contain"), (on_time.incident_id, "contain")]
    )
    assert _kinds(store, late.incident_id) == [
        "sla.reminded",
        "sla.breached",
        "sla.breached",
    ]
    views = {
        v.kind.value: v.state
        for v in slas.slas_of_ref(store, on_time.ref, POLICIES, OPENED + timedelta(hours=2))
    }
    # Acknowledged now, days after OPENED: met, but late (no breach is written for it, as
    # it was acknowledged before the check reached it).
    assert views == {"acknowledge": "met_late", "contain": "breached"}

    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    text = generate_latest(registry).decode()
    assert 'smokejumper_sla_breaches_total{kind="acknowledge",severity="high"} 1.0' in text
    assert 'smokejumper_sla_breaches_total{kind="contain",severity="high"} 2.0' in text
    assert "smokejumper_time_to_acknowledge_seconds_count 1.0" in text


def test_severities_without_a_policy_have_no_targets(migrated_store: Store) -> None:
    incident = insert_incident(
        migrated_store, playbook="p", opened_at=OPENED, fingerprint=uuid.uuid4().hex
    )
    low = {Severity.LOW: SlaPolicy(acknowledge_minutes=1)}
    assert slas.check_slas(migrated_store, low, OPENED + timedelta(days=1)) == []
    assert slas.incident_slas(migrated_store, incident.ref, low) == []
