"""Retention of alert bodies and dead letters, run as the leading scheduler runs it: old
bodies are emptied (the normalised record stays), old dead letters deleted, a held
incident's kept; each batch is one audit entry of ids and counts, and the chain verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from integrations.evidence.local import LocalEvidenceStore
from smokejumper.api.evidence import RawNotFound, raw_alert
from smokejumper.config import ConfigError, Settings, load_settings
from smokejumper.incidents import legal_holds
from smokejumper.incidents.retention import delete_dead_letters, delete_raw_alerts
from smokejumper.settings.retention import RetentionSettings
from smokejumper.store.audit import verify_chain
from smokejumper.store.db import Store
from smokejumper.store.tables import AlertRow, AuditEntry, DeadLetter
from tests.retention.conftest import add_incident
from workers.scheduler import Scheduler


def _alert(store: Store, incident_id: int) -> AlertRow:
    with store.session() as session:
        row = session.scalars(select(AlertRow).where(AlertRow.incident_id == incident_id)).one()
        return row


def _entries(store: Store, action: str) -> list[AuditEntry]:
    with store.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_old_bodies_and_dead_letters_go_a_held_incidents_stay_audited(
    settings: Settings, store: Store
) -> None:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    old = add_incident(store, evidence, 1, text="old@example.org", age_days=40)
    held = add_incident(store, evidence, 2, text="held@example.org", age_days=40)
    fresh = add_incident(store, evidence, 3, text="new@example.org", age_days=1)
    legal_holds.place(
        store, "INC-2026-0002", legal_holds.HoldRequest(reason="case 7"), by="lee", via="cli"
    )
    with store.transaction() as session:
        letters = {row.raw_body.split()[-1]: row.id for row in session.scalars(select(DeadLetter))}
        # Replayed into the held incident: part of what the hold keeps.
        session.execute(
            update(DeadLetter)
            .where(DeadLetter.id == letters["held@example.org"])
            .values(replay_alert_id=_alert(store, held).id)
        )
    before = {i: _alert(store, i) for i in (old, held, fresh)}

    settings.retention = RetentionSettings(raw_alerts_days=30, dead_letters_days=30)
    scheduler = Scheduler(settings, store)
    await scheduler.renew_lease()
    assert scheduler.leader
    done = await scheduler.apply_data_retention()
    assert done["alert bodies"].deleted == [before[old].id]
    assert done["alert bodies"].held == [before[held].id]
    assert done["dead letters"].deleted == [letters["old@example.org"]]
    assert done["dead letters"].held == [letters["held@example.org"]]

    gone = _alert(store, old)
    assert gone.raw == "" and gone.raw_deleted_at is not None
    assert gone.normalized == before[old].normalized  # the incident's record stays
    with pytest.raises(RawNotFound, match="deleted by retention"):
        raw_alert(store, "INC-2026-0001", gone.id)
    assert _alert(store, held).raw == before[held].raw
    assert _alert(store, fresh).raw == before[fresh].raw
    with store.session() as session:
        remaining = set(session.scalars(select(DeadLetter.id)))
    assert remaining == {letters["held@example.org"], letters["new@example.org"]}

    bodies = _entries(store, "retention.alert_bodies_deleted")
    dropped = _entries(store, "retention.dead_letters_deleted")
    assert [e.data["alert_ids"] for e in bodies] == [[before[old].id]]
    assert [e.data["dead_letter_ids"] for e in dropped] == [[letters["old@example.org"]]]
    assert bodies[0].data["kept_on_legal_hold"] == 1 and bodies[0].actor == "retention"
    # Ids and counts only: nothing of what was deleted.
    assert "old@example.org" not in repr([(e.data, e.subject) for e in bodies + dropped])

    # A second run finds nothing left to delete and writes nothing.
    again = await scheduler.apply_data_retention()
    assert again["alert bodies"].deleted == [] and again["dead letters"].deleted == []
    assert len(_entries(store, "retention.alert_bodies_deleted")) == 1
    report = verify_chain(store)
    assert report.problems == [] and report.count >= 5

    # Released, the held incident's body goes at the next run.
    legal_holds.release(
        store, "INC-2026-0002", 1, legal_holds.ReleaseRequest(reason="done"), by="a", via="cli"
    )
    later = delete_raw_alerts(store, datetime.now(UTC) - timedelta(days=30))
    assert later.deleted == [before[held].id]
    assert delete_dead_letters(store, datetime.now(UTC) - timedelta(days=30)).deleted == [
        letters["held@example.org"]
    ]
    assert verify_chain(store).problems == []


async def test_a_standby_scheduler_deletes_nothing(settings: Settings, store: Store) -> None:
    add_incident(store, LocalEvidenceStore(settings.evidence_directory), 1, age_days=40)
    settings.retention = RetentionSettings(raw_alerts_days=1)
    leader = Scheduler(settings, store)
    await leader.renew_lease()
    standby = Scheduler(settings, store)
    await standby.renew_lease()
    assert leader.leader and not standby.leader
    assert await standby.apply_data_retention() == {}
    assert _entries(store, "retention.alert_bodies_deleted") == []


@pytest.mark.parametrize("value", ["0", "-3", "40000", "soon"])
def test_bad_periods_are_refused_naming_the_key(value: str) -> None:
    with pytest.raises(ConfigError, match=r"retention\.raw_alerts_days"):
        load_settings(None, retention={"raw_alerts_days": value})
