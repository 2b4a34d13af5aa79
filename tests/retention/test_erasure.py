"""Erasure on request (GDPR Art. 17): the subject's e-mail address or phone, however it is
spelled, is replaced in every table and evidence object that held it; held evidence is
withheld and reported; the audit log records the erasure without the subject, and the
chain still verifies (and still catches an edit made afterwards)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import delete, select, update

from integrations.evidence.local import LocalEvidenceStore
from smokejumper.app import create_app
from smokejumper.config import Settings
from smokejumper.incidents import legal_holds
from smokejumper.security.operator import operator_token
from smokejumper.store import audit
from smokejumper.store.audit import verify_chain
from smokejumper.store.db import Store
from smokejumper.store.tables import (
    AlertRow,
    AuditEntry,
    AuditErasure,
    Base,
    DeadLetter,
    EvidenceItem,
    Incident,
    TimelineEvent,
)
from tests.retention.conftest import EMAIL, PHONE, add_incident, cli


def _where(store: Store, needle: str) -> list[str]:
    """Every row (table:id) whose columns mention `needle`, case-insensitively."""
    found = []
    with store.session() as session:
        for model in (Incident, AlertRow, DeadLetter, TimelineEvent, EvidenceItem, AuditEntry):
            for row in session.scalars(select(model)):
                values = [getattr(row, c.key) for c in model.__mapper__.column_attrs]
                if needle.lower() in repr(values).lower():
                    found.append(f"{model.__tablename__}:{values[0]}")
    return found


def _rows(store: Store, model: type[Base]) -> list[Any]:
    with store.session() as session:
        return list(session.scalars(select(model)))


@pytest_asyncio.fixture
async def http(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    app = create_app(settings, store, evidence_reader=evidence.get)
    app.state.evidence_objects = evidence
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


async def test_the_subject_is_erased_everywhere_but_what_a_hold_keeps(
    settings: Settings, store: Store, http: httpx.AsyncClient
) -> None:
    evidence = LocalEvidenceStore(settings.evidence_directory)
    mine = add_incident(store, evidence, 1, text=f"{EMAIL} or {PHONE}")
    add_incident(store, evidence, 2, text=EMAIL)
    other = add_incident(store, evidence, 3, text="bob@example.org")
    legal_holds.place(
        store, "INC-2026-0002", legal_holds.HoldRequest(reason="case 7"), by="lee", via="cli"
    )
    with store.transaction() as session:
        # A responder known by their address is personal data in the audit log too.
        audit.append(session, actor=EMAIL, action="approval.approved", subject="x", data={})
    old_object = next(i for i in _rows(store, EvidenceItem) if i.incident_id == mine)
    assert len(_where(store, EMAIL)) == 11

    erased = cli(settings, "erase", "--subject", EMAIL.upper(), "--reason", "DSR-17", "--json")
    assert erased.exit_code == 0, erased.output
    assert EMAIL not in erased.output.lower()
    # What remains is what the hold on INC-2026-0002 keeps: its alert and its evidence.
    left = _where(store, EMAIL)
    assert [t.split(":")[0] for t in left] == ["alerts"], left
    held = next(i for i in _rows(store, EvidenceItem) if i.incident_id != mine and i.id == 2)
    assert EMAIL.encode() in evidence.get(held.uri)
    assert f'"evidence {held.id}: on legal hold"' in erased.output
    assert "its incident is on legal hold" in erased.output
    assert _where(store, "bob@example.org")  # another subject's data is untouched

    item = next(i for i in _rows(store, EvidenceItem) if i.incident_id == mine)
    data = evidence.get(item.uri)
    assert data == f"prompt 1: [ERASED:email] or {PHONE}".encode()
    assert item.sha256 == hashlib.sha256(data).hexdigest() and item.size == len(data)
    assert not evidence.path_for(old_object.sha256).exists()
    alert = next(a for a in _rows(store, AlertRow) if a.incident_id == mine)
    assert "[ERASED:email]" in alert.raw and "[ERASED:email]" in alert.normalized["prompt"]

    # The erasure's own entry names the subject by a keyed hash only.
    (entry,) = [e for e in _rows(store, AuditEntry) if e.action == "data.erased"]
    assert entry.data["kind"] == "email" and entry.data["reason"] == "DSR-17"
    assert entry.data["erased"]["audit_log"] == 3 and entry.data["erased"]["alerts"] == 1
    assert len(entry.data["subject_ref"]) == 64 and EMAIL not in repr(entry.data).lower()
    report = verify_chain(store)
    assert report.problems == [] and len(report.erased) == 3
    verified = cli(settings, "audit", "verify")
    assert verified.exit_code == 0, verified.output

    # The same phone, spelled otherwise, through the API (admins only).
    denied = await http.post("/api/v1/erasures", json={"subject": "(415) 555-2671"})
    assert denied.status_code == 401
    token = {"authorization": f"Bearer {operator_token(settings, create=True)}"}
    answer = await http.post("/api/v1/erasures", json={"subject": "(415) 555-2671"}, headers=token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["kind"] == "phone" and answer.json()["erased"]["timeline_events"] == 1
    assert _where(store, PHONE) == [] and _where(store, "+14155552671") == []
    assert (
        evidence.get(next(i for i in _rows(store, EvidenceItem) if i.incident_id == mine).uri)
        == b"prompt 1: [ERASED:email] or [ERASED:phone]"
    )
    assert verify_chain(store).problems == []
    assert other  # untouched above


async def test_bad_subjects_are_refused_and_erased_rows_stay_tamper_evident(
    settings: Settings, store: Store, http: httpx.AsyncClient
) -> None:
    add_incident(store, LocalEvidenceStore(settings.evidence_directory), 1, text=EMAIL)
    for subject, why in (
        ("", "subject: empty"),
        ("  ", "subject: empty"),
        ("a@b.c", "shorter than 6"),
        ("Alice Doe", "not one personal-data value"),
        (f"{EMAIL} {PHONE}", "not one personal-data value"),
        ("AKIAIOSFODNN7EXAMPLE", "not one personal-data value"),
        ("a" * 400 + "@example.com", "subject: String should have at most 320"),
    ):
        refused = cli(settings, "erase", "--subject", subject)
        assert refused.exit_code == 2 and why in refused.output, (subject, refused.output)
    token = {"authorization": f"Bearer {operator_token(settings, create=True)}"}
    answer = await http.post("/api/v1/erasures", json={"subject": "Alice"}, headers=token)
    assert answer.status_code == 422 and "subject" in answer.text
    long = await http.post("/api/v1/erasures", json={"subject": "a" * 400}, headers=token)
    assert long.status_code == 422 and "subject" in long.text
    assert _rows(store, AuditErasure) == []
    assert not any(e.action == "data.erased" for e in _rows(store, AuditEntry))

    assert cli(settings, "erase", "--subject", EMAIL).exit_code == 0
    (attested,) = _rows(store, AuditErasure)
    # An edit after the erasure is caught, and so is a deleted attestation.
    with store.transaction() as session:
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.id == attested.entry_id)
            .values(data={"reason": "spoke to nobody"})
        )
    assert [p.entry_id for p in verify_chain(store).problems] == [attested.entry_id]
    with store.transaction() as session:
        session.execute(delete(AuditErasure))
    assert [p.entry_id for p in verify_chain(store).problems] == [attested.entry_id]
    # An erasure will not vouch for a row that does not verify.
    with store.transaction() as session:
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.id == attested.entry_id)
            .values(data={"reason": f"met {EMAIL}"})
        )
    again = cli(settings, "erase", "--subject", EMAIL)
    assert again.exit_code == 0, again.output
    assert _rows(store, AuditErasure) == []
    assert f"audit row {attested.entry_id}: does not verify" in again.output
