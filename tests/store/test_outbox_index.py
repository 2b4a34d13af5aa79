"""The outbox's query (alerts not yet dispatched, oldest first) reads an index of those
alerts alone: marking an alert dispatched takes it out of that small index, and the
outbox never walks every alert ever received."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from smokejumper.store.db import Store
from smokejumper.store.tables import AlertRow, Incident

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_the_outbox_query_reads_the_undispatched_index(migrated_store: Store) -> None:
    # The outbox's own query shape (IntakeService._pending).
    query = (
        select(AlertRow.id)
        .join(Incident, AlertRow.incident_id == Incident.id)
        .where(AlertRow.dispatched_at.is_(None), AlertRow.received_at <= datetime.now(UTC))
        .order_by(AlertRow.received_at)
        .limit(100)
    )
    with migrated_store.session() as session:
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        index = session.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'ix_alerts_undispatched'")
        ).scalar_one()
    details = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX ix_alerts_undispatched" in details, details
    assert index.endswith("WHERE dispatched_at IS NULL")
