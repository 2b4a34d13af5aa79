"""`GET /metrics` from the store at scrape time, and MTTA/MTTR on the incident list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from smokejumper.store.db import Store
from smokejumper.store.tables import Action, AlertRow, DeadLetter, Incident, TimelineEvent
from tests.console.conftest import asgi_client
from tests.helpers import insert_incident, make_settings


def after(start: datetime, minutes: int | None) -> datetime | None:
    return start + timedelta(minutes=minutes) if minutes is not None else None


def seed(store: Store) -> None:
    """Three incidents: acknowledged after 2 and 4 minutes (one of them resolved after an
    hour, one closed after 3 hours), a third still open; alerts, a dead letter, approvals,
    a clock breach and a containment action retried once."""
    specs = [
        ("a", "high", 2, None, 60, None),
        ("b", "critical", 4, 10, None, 180),
        ("c", "high", None, None, None, None),
    ]
    for fingerprint, severity, ack, contain, resolve, close in specs:
        opened = datetime.now(UTC) - timedelta(hours=5)
        start = insert_incident(store, playbook="triage", fingerprint=fingerprint, opened_at=opened)
        with store.transaction() as session:
            session.execute(
                update(Incident)
                .where(Incident.id == start.incident_id)
                .values(
                    severity=severity,
                    acknowledged_at=after(opened, ack),
                    contained_at=after(opened, contain),
                    resolved_at=after(opened, resolve),
                    closed_at=after(opened, close),
                    status="closed" if close else "open",
                )
            )
            session.add(
                AlertRow(
                    id=str(uuid.uuid4()),
                    source="llm-guard" if fingerprint != "c" else "lakera",
                    kind="data_leakage",
                    severity=severity,
                    title="t",
                    occurred_at=opened,
                    fingerprint=fingerprint,
                    incident_id=start.incident_id,
                    raw="{}",
                    normalized={},
                )
            )
            for kind, minutes in (("approval.requested", 1), ("approval.approved", 31)):
                if fingerprint == "c" and kind == "approval.approved":
                    continue
                session.add(
                    TimelineEvent(
                        incident_id=start.incident_id,
                        at=opened + timedelta(minutes=minutes),
                        kind=kind,
                        step="isolate",
                        actor="x",
                        message="m",
                        data={},
                    )
                )
    with store.transaction() as session:
        session.add(
            DeadLetter(id=str(uuid.uuid4()), source="lakera", reason="invalid", raw_body="{")
        )
        session.add(
            TimelineEvent(incident_id=1, kind="clock.breached", actor="x", message="m", data={})
        )
        session.add(
            Action(
                incident_id=1,
                action="revoke_key",
                target="k",
                provider="aws-iam",
                business_key="1:revoke_key:k",
                status="completed",
                attempts=2,
            )
        )


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, tuple(sorted(labels.items())))


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_come_from_the_store_and_replicas_agree(
    tmp_path: Path, database_url: str, migrated_store: Store
) -> None:
    seed(migrated_store)
    settings = make_settings(tmp_path, database_url, "127.0.0.1:1")
    async with (
        asgi_client(settings, migrated_store) as one,
        asgi_client(settings, migrated_store) as two,
    ):
        first = await one.get("/metrics")
        second = await two.get("/metrics")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/plain")
    got, other = samples(first.text), samples(second.text)
    # The oldest wait grows with the clock between the two scrapes; all else is stored.
    waiting = key("smokejumper_approvals_pending_oldest_seconds")
    assert 0 <= other.pop(waiting) - got[waiting] < 60
    assert {k: v for k, v in got.items() if k != waiting} == other, "replicas must agree"

    assert (
        got[
            (
                "smokejumper_alerts_received_total",
                (("kind", "data_leakage"), ("source", "llm-guard")),
            )
        ]
        == 2
    )
    assert got[key("smokejumper_alerts_received_total", kind="data_leakage", source="lakera")] == 1
    assert got[key("smokejumper_dead_letters_total", reason="invalid", source="lakera")] == 1
    assert got[("smokejumper_incidents_open", (("severity", "high"),))] == 2
    assert got[("smokejumper_incidents_open", (("severity", "critical"),))] == 0
    # Acknowledged after 2 and 4 minutes: both in the 5-minute bucket, none in the first.
    assert got[("smokejumper_time_to_acknowledge_seconds_bucket", (("le", "60.0"),))] == 0
    assert got[("smokejumper_time_to_acknowledge_seconds_bucket", (("le", "300.0"),))] == 2
    assert got[("smokejumper_time_to_acknowledge_seconds_sum", ())] == 360
    assert got[("smokejumper_time_to_contain_seconds_count", ())] == 1
    # Resolved after 1 hour; the other closed after 3 hours counts as resolved then.
    assert got[("smokejumper_time_to_resolve_seconds_bucket", (("le", "3600.0"),))] == 1
    assert got[("smokejumper_time_to_resolve_seconds_count", ())] == 2
    # One approval still waits (since 1 minute after its incident opened, 5 hours ago).
    assert got[("smokejumper_approvals_pending", ())] == 1
    assert 4 * 3600 < got[("smokejumper_approvals_pending_oldest_seconds", ())] < 5 * 3600
    assert got[("smokejumper_approval_wait_seconds_count", ())] == 2
    assert got[("smokejumper_approval_wait_seconds_sum", ())] == 3600
    assert got[("smokejumper_clock_breaches_total", ())] == 1
    assert (
        got[
            (
                "smokejumper_activity_failures_total",
                (("action", "revoke_key"), ("provider", "aws-iam")),
            )
        ]
        == 1
    )


async def test_incident_list_shows_mtta_and_mttr_of_the_filtered_set(
    tmp_path: Path, sqlite_url: str, sqlite_store: Store
) -> None:
    seed(sqlite_store)
    settings = make_settings(
        tmp_path,
        sqlite_url,
        "127.0.0.1:1",
        console={"trusted_header": "X-Forwarded-User", "trusted_header_proxies": ["192.0.2.0/24"]},
    )
    async with asgi_client(settings, sqlite_store, address="192.0.2.7") as proxy:
        headers = {"x-forwarded-user": "auditor"}
        everything = await proxy.get("/", headers=headers)
        assert everything.status_code == 200
        assert "3 incident(s)" in everything.text
        # (2 + 4) / 2 minutes to acknowledge; (60 + 180) / 2 minutes to resolve or close.
        assert '<strong data-testid="mtta">3m</strong>' in everything.text
        assert '<strong data-testid="mttr">2h 00m</strong>' in everything.text
        critical = await proxy.get("/?severity=critical", headers=headers)
        assert "1 incident(s)" in critical.text
        assert '<strong data-testid="mtta">4m</strong>' in critical.text
        assert '<strong data-testid="mttr">3h 00m</strong>' in critical.text
        searched = await proxy.get("/?q=nothing-like-this", headers=headers)
        assert "No incidents match." in searched.text
