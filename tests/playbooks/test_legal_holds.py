"""Legal holds, end to end: the evidence a real leak response captured is held from the
CLI; retention and a purge then delete nothing held, a viewer cannot place or release a
hold, every placement, release and deletion is in the audit log, and the chain verifies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from integrations.evidence.registry import evidence_store
from smokejumper.incidents.legal_holds import apply_retention
from smokejumper.security.users import Role, add_user, issue_token
from smokejumper.store import audit
from smokejumper.store.tables import AuditEntry, EvidenceItem
from tests.playbooks.conftest import Responder
from tests.playbooks.test_data_leakage import leak_alert


def _blob(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def _audited(responder: Responder, action: str) -> list[AuditEntry]:
    with responder.engine.store.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _items(responder: Responder, ref: str) -> list[EvidenceItem]:
    number = int(ref.rsplit("-", 1)[1])
    return [e for e in responder.evidence() if e.incident_id == number]


async def _viewer_token(responder: Responder) -> str:
    with responder.engine.store.transaction() as session:
        user = add_user(session, "vera", Role.VIEWER, "a long viewer password")
        return issue_token(session, user, "tests")[1]


async def test_held_evidence_survives_retention_and_purges_until_released(
    responder: Responder,
) -> None:
    engine = responder.engine
    ref = await responder.send(leak_alert())
    await responder.decide(ref, "gdpr notification", False, "test data only")
    await responder.wait_for(ref, "playbook.finished")
    items = _items(responder, ref)
    assert len(items) >= 3  # the alert's prompt and output, the report
    assert all(_blob(i.uri).is_file() for i in items)

    placed = await engine.cli("evidence", "hold", ref, "--reason", "litigation: case 7")
    assert placed.exit_code == 0, placed.output
    assert f"legal hold 1 on all evidence of {ref}" in placed.output
    closed = await engine.cli("incidents", "close", ref, "--reason", "handled")
    assert closed.exit_code == 0, closed.output

    # Retention past every capture: the incident is closed, but everything is held.
    deleter = evidence_store(responder.settings).delete
    later = datetime.now(UTC) + timedelta(days=1)
    done = apply_retention(engine.store, later, deleter)
    assert (done.deleted, sorted(done.held)) == ([], sorted(i.id for i in items))
    refused = await engine.cli("evidence", "purge", ref, "--reason", "tidy up")
    assert refused.exit_code == 1
    assert "on legal hold (#1 (the incident, by operator))" in refused.output
    assert "nothing was deleted" in refused.output
    assert len(_items(responder, ref)) == len(items)

    # A viewer reads holds but places and releases none.
    viewer = {"authorization": f"Bearer {await _viewer_token(responder)}"}
    listed = await engine.http.get(f"/api/v1/incidents/{ref}/legal-holds", headers=viewer)
    assert listed.status_code == 200 and listed.json()[0]["reason"] == "litigation: case 7"
    for path, body in (
        (f"/api/v1/incidents/{ref}/legal-holds", {"reason": "mine"}),
        (f"/api/v1/incidents/{ref}/legal-holds/1/release", {"reason": "mine"}),
        (f"/api/v1/incidents/{ref}/evidence/purge", {"reason": "mine"}),
    ):
        answer = await engine.http.post(path, json=body, headers=viewer)
        assert answer.status_code == 403, (path, answer.text)

    # One item held on its own; the incident-wide hold released.
    report = next(i for i in items if i.kind == "report")
    one = await engine.http.post(
        f"/api/v1/incidents/{ref}/legal-holds",
        json={"reason": "the report is an exhibit", "evidence_id": report.id},
    )
    assert one.status_code == 201, one.text
    other = await engine.http.post(
        f"/api/v1/incidents/{ref}/legal-holds", json={"reason": "x", "evidence_id": 999_999}
    )
    assert other.status_code == 404 and "has no evidence 999999" in other.text
    # Beyond a row id (PostgreSQL's integer): refused at the boundary, never a database error.
    huge = await engine.http.post(
        f"/api/v1/incidents/{ref}/legal-holds", json={"reason": "x", "evidence_id": 2**40}
    )
    assert huge.status_code == 422 and "evidence_id" in huge.text
    released = await engine.cli("evidence", "release", ref, "1", "--reason", "case settled")
    assert released.exit_code == 0, released.output
    again = await engine.cli("evidence", "release", ref, "1", "--reason", "twice")
    assert again.exit_code == 1 and "was released by operator" in again.output

    done = apply_retention(engine.store, later, deleter)
    assert done.held == [report.id]
    assert sorted(done.deleted) == sorted(i.id for i in items if i.id != report.id)
    assert [i.id for i in _items(responder, ref)] == [report.id]
    assert _blob(report.uri).is_file()
    gone = [i for i in items if i.id != report.id and i.sha256 != report.sha256]
    assert gone and not any(_blob(i.uri).exists() for i in gone)

    # A purge is all or nothing against holds; released, it deletes the rest.
    refused = await engine.cli("evidence", "purge", ref, "--reason", "tidy up")
    assert refused.exit_code == 1 and f"evidence {report.id}" in refused.output
    await engine.cli("evidence", "release", ref, "2", "--reason", "exhibit returned")
    purged = await engine.cli("evidence", "purge", ref, "--reason", "past retention")
    assert purged.exit_code == 0, purged.output
    assert f"1 evidence item(s) of {ref} deleted" in purged.output
    assert _items(responder, ref) == [] and not _blob(report.uri).exists()

    holds = await engine.cli("evidence", "holds", ref)
    assert holds.exit_code == 0 and holds.output.count("released") == 2

    deleted = _audited(responder, "evidence.deleted")
    assert sorted(e.data["evidence_id"] for e in deleted) == sorted(i.id for i in items)
    assert {e.data["why"] for e in deleted} == {"retention", "purge: past retention"}
    assert len(_audited(responder, "evidence.hold_placed")) == 2
    assert len(_audited(responder, "evidence.hold_released")) == 2
    assert audit.verify_chain(engine.store).problems == []
