"""Every raw read through the API (an alert as received, an evidence object, a dead
letter's body) and every dead-letter replay is in the audit log: who, what, which incident.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from integrations.evidence.checkpoints import head_checkpoints
from integrations.evidence.local import LocalEvidenceStore
from integrations.sources.registry import NORMALIZERS
from smokejumper.app import create_app
from smokejumper.config import Settings, load_settings
from smokejumper.intake.dead_letters import record_dead_letter
from smokejumper.security.operator import operator_token
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.open import open_store
from smokejumper.store.tables import AlertRow, AuditEntry, EvidenceItem, Incident
from tests.helpers import insert_incident

SECRET = "sk-live-0123456789abcdef0123456789abcdef"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    upgrade(database_url)
    return load_settings(None, data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings, head_checkpoints(settings))
    yield store
    store.dispose()


@pytest_asyncio.fixture
async def http(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    app = create_app(settings, store, normalizers=NORMALIZERS, evidence_reader=evidence.get)
    token = operator_token(settings, create=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"authorization": f"Bearer {token}"},
    ) as client:
        yield client


def entries(store: Store, action: str) -> list[AuditEntry]:
    with store.session() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def incident_with_raw(store: Store, settings: Settings) -> tuple[str, str, int]:
    """An incident with one alert and one evidence object, both holding the secret."""
    start = insert_incident(store, playbook="p", fingerprint=uuid.uuid4().hex)
    data = f"model output: {SECRET}".encode()
    digest = hashlib.sha256(data).hexdigest()
    uri = LocalEvidenceStore(settings.evidence_directory).put(digest, data)
    alert_id = str(uuid.uuid4())
    with store.transaction() as session:
        incident = session.scalars(select(Incident).where(Incident.ref == start.ref)).one()
        session.add(
            AlertRow(
                id=alert_id,
                source="dlp",
                kind="data_leakage",
                severity="high",
                title="leak",
                occurred_at=datetime.now(UTC),
                fingerprint=incident.fingerprint,
                incident_id=incident.id,
                raw=json.dumps({"output": SECRET}),
                normalized={},
            )
        )
        item = EvidenceItem(
            incident_id=incident.id,
            name="model-output",
            kind="text",
            sha256=digest,
            size=len(data),
            uri=uri,
            redacted_preview="model output: [REDACTED]",
            captured_by="playbook",
            evidence_key=uuid.uuid4().hex,
        )
        session.add(item)
        session.flush()
        return start.ref, alert_id, item.id


async def test_raw_alert_and_evidence_reads_are_audited(
    http: httpx.AsyncClient, store: Store, settings: Settings
) -> None:
    ref, alert_id, evidence_id = incident_with_raw(store, settings)
    alert = await http.get(f"/api/v1/incidents/{ref}/alerts/{alert_id}/raw")
    assert alert.status_code == 200, alert.text
    assert SECRET in alert.text
    item = await http.get(f"/api/v1/incidents/{ref}/evidence/{evidence_id}/raw")
    assert item.status_code == 200, item.text
    assert SECRET.encode() in item.content

    reads = entries(store, "evidence.raw_viewed")
    assert [(e.actor, e.subject) for e in reads] == [("operator", ref), ("operator", ref)]
    assert reads[0].data == {"alert": alert_id, "via": "operator-token"}
    assert reads[1].data["evidence_id"] == evidence_id
    assert reads[1].data["evidence"] == "model-output"
    # The audit names what was read, never the bytes themselves.
    assert SECRET not in json.dumps([e.data for e in reads])
    assert audit.verify(store) == (2, [])

    # A read that finds nothing reads nothing, and is not recorded.
    missing = await http.get(f"/api/v1/incidents/{ref}/alerts/{uuid.uuid4()}/raw")
    assert missing.status_code == 404
    assert len(entries(store, "evidence.raw_viewed")) == 2


async def test_dead_letter_reads_and_replays_are_audited(
    http: httpx.AsyncClient, store: Store
) -> None:
    body = json.dumps({"source": "dlp", "kind": "data_leakage", "severity": "severe"})
    letter = record_dead_letter(
        store,
        endpoint="/api/v1/alerts",
        source="dlp",
        reason="invalid alert",
        errors=[{"field": "severity", "message": "bad", "type": "value_error"}],
        raw_body=body.encode(),
        headers={},
        remote_addr="127.0.0.1",
    )
    shown = await http.get(f"/api/v1/dead-letters/{letter}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["raw_body"] == body
    [read] = entries(store, "dead_letter.raw_viewed")
    assert (read.actor, read.subject, read.data) == (
        "operator",
        letter,
        {"source": "dlp", "via": "operator-token"},
    )

    replayed = await http.post(f"/api/v1/dead-letters/{letter}/replay", json={})
    assert replayed.status_code == 422, replayed.text
    [replay] = entries(store, "dead_letter.replay")
    assert (replay.actor, replay.subject) == ("operator", letter)
    assert replay.data["result"] == "rejected"
    assert replay.data["body_changed"] is False
    assert audit.verify(store) == (2, [])
