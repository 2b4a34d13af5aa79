"""Erasure on request (GDPR Art. 17): one data subject's personal data, found the way
redaction finds it, replaced by `[ERASED:<kind>]` wherever the store keeps free text.

The subject must be one value the redactor recognises as personal data (an e-mail
address, a phone number, a card, an IBAN, an SSN): a name or a word cannot be found
reliably and would erase unrelated text. Occurrences are matched by value, not spelling:
`Alice@Example.com` is the same address, `+1 415 555 2671` the same phone as
`(415) 555-2671`.

What is erased: alerts (body as received, normalised record, title), incidents (title,
commander, principal, target, labels), the case records (notes, tasks, assignees, who
tagged and linked), dead letters, timeline entries, approvals, legal holds, evidence (the
stored object and its preview) and the audit log, with the names of who did each thing.
Evidence on legal hold, and the alerts, notes and tasks of an incident with an active
hold, are withheld and reported. An audit row keeps its hash so the chain still links; an
attestation under the audit key vouches for its erased content
(`audit.erasure_attestation`). The erasure's own audit entry holds a keyed hash of the
subject and counts, never the subject.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from smokejumper.redaction import DEFAULT
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.tables import (
    AlertRow,
    Approval,
    AuditEntry,
    AuditErasure,
    Base,
    DeadLetter,
    EvidenceItem,
    Incident,
    IncidentAssignee,
    IncidentLink,
    IncidentNote,
    IncidentTag,
    IncidentTask,
    LegalHold,
    TimelineEvent,
    utcnow,
)

log = logging.getLogger(__name__)

PERSONAL_KINDS = frozenset({"email", "phone", "card", "iban", "ssn"})
SUBJECT_MIN = 6
SUBJECT_MAX = 320
_BATCH = 500
# A phone written without its country code is still the same number: compare the last
# digits, at least this many.
_PHONE_DIGITS = 10


class NotPersonalData(ValueError):
    """The subject is empty, too short, or not one personal-data value the redactor finds."""


class ErasureRequest(BaseModel):
    subject: str = Field(max_length=SUBJECT_MAX, description="The value to erase.")
    reason: str | None = Field(
        default=None, max_length=2_000, description="The request's reference; audited."
    )


class ErasureReport(BaseModel):
    erasure_id: int = Field(description="The erasure's audit entry.")
    kind: str
    subject_ref: str = Field(
        description="HMAC-SHA256 of the subject under the audit key: the audit log's name "
        "for it, never the subject itself."
    )
    erased: dict[str, int] = Field(description="Rows (objects) changed, by what they are.")
    withheld: list[str] = Field(description="What a legal hold kept, or what was not erased.")


class EvidenceObjects(Protocol):
    """The evidence store's calls an erasure needs (integrations.evidence.base)."""

    def get(self, uri: str) -> bytes: ...

    def put(self, key: str, data: bytes) -> str: ...

    def delete(self, uri: str) -> None: ...


def _normal(kind: str, value: str) -> str:
    if kind == "email":
        return value.strip().lower()
    if kind == "iban":
        return re.sub(r"[^A-Za-z0-9]", "", value).upper()
    return re.sub(r"\D", "", value)


@dataclass(frozen=True)
class Subject:
    kind: str
    value: str
    normal: str

    @property
    def marker(self) -> str:
        return f"[ERASED:{self.kind}]"

    def same(self, found: str) -> bool:
        other = _normal(self.kind, found)
        if self.kind == "phone":
            short, long = sorted((self.normal, other), key=len)
            return len(short) >= _PHONE_DIGITS and long.endswith(short)
        return other == self.normal

    def scrub(self, text: str) -> tuple[str, int]:
        """`text` with every occurrence replaced, and how many there were."""
        spans: list[tuple[int, int]] = []
        # Someone else's value of the same kind (`jimbob@example.com` when erasing
        # `bob@example.com`) is theirs: no part of it is erased.
        claimed: list[tuple[int, int]] = []
        for f in DEFAULT.find(text):
            if f.kind == self.kind:
                claimed.append((f.start, f.end))
                if self.same(text[f.start : f.end]):
                    spans.append((f.start, f.end))
        # The value as given, where the redactor does not see it (glued to other text).
        for match in re.finditer(re.escape(self.value), text, re.IGNORECASE):
            if not any(s < match.end() and match.start() < e for s, e in claimed):
                spans.append(match.span())
        if not spans:
            return text, 0
        parts: list[str] = []
        position = 0
        for start, end in sorted(spans):
            parts.append(text[position:start])
            parts.append(self.marker)
            position = end
        parts.append(text[position:])
        return "".join(parts), len(spans)

    def scrub_json(self, value: Any) -> tuple[Any, int]:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            total = 0
            out: dict[str, Any] = {}
            for key, item in value.items():
                new_key, n_key = self.scrub(key) if isinstance(key, str) else (key, 0)
                out[new_key], n = self.scrub_json(item)
                total += n + n_key
            return out, total
        if isinstance(value, list):
            items = [self.scrub_json(item) for item in value]
            return [item for item, _ in items], sum(n for _, n in items)
        return value, 0


def parse_subject(subject: str) -> Subject:
    """The subject as one personal-data value, or NotPersonalData saying why not."""
    value = subject.strip()
    if not value:
        raise NotPersonalData("subject: empty")
    if len(value) < SUBJECT_MIN:
        raise NotPersonalData(f"subject: shorter than {SUBJECT_MIN} characters")
    findings = DEFAULT.find(value)
    whole = [f for f in findings if f.start == 0 and f.end == len(value)]
    if len(findings) != 1 or not whole or whole[0].kind not in PERSONAL_KINDS:
        kinds = ", ".join(sorted(PERSONAL_KINDS))
        raise NotPersonalData(
            "subject: not one personal-data value the redactor recognises "
            f"(one of: {kinds}); names and other words are not erased by search"
        )
    kind = whole[0].kind
    return Subject(kind, value, _normal(kind, value))


def subject_ref(key: bytes, subject: Subject) -> str:
    """A keyed hash: without the key it tells nothing about whom, not even by guessing."""
    message = f"erasure-subject:{subject.kind}:{subject.normal}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


Row = TypeVar("Row", bound=Base)


def _batches(
    store: Store, model: type[Row], key: InstrumentedAttribute[Any]
) -> Iterator[tuple[Session, list[Row]]]:
    """Every row of `model`, a batch per transaction (each batch commits on its own)."""
    after: Any = None
    while True:
        with store.transaction() as session:
            query = select(model).order_by(key).limit(_BATCH)
            if after is not None:
                query = query.where(key > after)
            rows = list(session.scalars(query))
            if not rows:
                return
            yield session, rows
            after = getattr(rows[-1], key.key)
        if len(rows) < _BATCH:
            return


def _scrub_row(subject: Subject, row: Any, text: tuple[str, ...], json: tuple[str, ...]) -> int:
    found = 0
    for name in text:
        value = getattr(row, name)
        if isinstance(value, str):
            new, n = subject.scrub(value)
            if n:
                setattr(row, name, new)
                found += n
    for name in json:
        new_json, n = subject.scrub_json(getattr(row, name))
        if n:
            setattr(row, name, new_json)
            found += n
    return found


def _held_incidents(session: Session) -> set[int]:
    """Incidents with an active incident-wide hold."""
    return set(
        session.scalars(
            select(LegalHold.incident_id).where(
                LegalHold.released_at.is_(None), LegalHold.evidence_id.is_(None)
            )
        )
    )


def _held_items(session: Session) -> set[int]:
    return {
        evidence_id
        for evidence_id in session.scalars(
            select(LegalHold.evidence_id).where(
                LegalHold.released_at.is_(None), LegalHold.evidence_id.is_not(None)
            )
        )
        if evidence_id is not None
    }


@dataclass
class _Tally:
    erased: dict[str, int]
    withheld: list[str]

    def add(self, what: str) -> None:
        self.erased[what] = self.erased.get(what, 0) + 1


# What a table keeps about people: its free text, and the names of who did what (a
# responder whose user name is an e-mail address is a data subject too). Keys, hashes and
# URIs are left alone: they tie rows together and say nothing a person wrote.
_PLAIN_TABLES: tuple[tuple[str, type[Base], tuple[str, ...], tuple[str, ...]], ...] = (
    ("incidents", Incident, ("title", "commander"), ("principal", "target", "labels")),
    ("dead_letters", DeadLetter, ("raw_body", "reason"), ("errors", "headers")),
    ("timeline_events", TimelineEvent, ("message", "step", "actor"), ("data",)),
    ("approvals", Approval, ("question", "risk", "requested_by"), ("decisions", "approvers")),
    (
        "legal_holds",
        LegalHold,
        ("reason", "release_reason", "placed_by", "released_by"),
        (),
    ),
    ("incident_assignees", IncidentAssignee, ("user", "added_by"), ()),
    ("incident_tags", IncidentTag, ("added_by",), ()),
    ("incident_links", IncidentLink, ("created_by",), ()),
)
# A case's own record, kept whole under an incident-wide hold like its alerts.
_CASE_TABLES: tuple[tuple[str, str, type[Base], tuple[str, ...]], ...] = (
    ("incident_notes", "note", IncidentNote, ("text", "author")),
    (
        "incident_tasks",
        "task",
        IncidentTask,
        ("title", "owner", "created_by", "completed_by", "completion_note"),
    ),
)


def erase(
    store: Store, request: ErasureRequest, objects: EvidenceObjects, *, by: str, via: str
) -> ErasureReport:
    """Erase the subject everywhere the store keeps it; NotPersonalData refuses the
    request before anything is read. Rows are changed a batch at a time: run it again to
    catch rows written while it ran (it is idempotent)."""
    subject = parse_subject(request.subject)
    if store.audit is None:
        raise audit.AuditKeyMissing("an erasure needs the audit key: open the store with it")
    key = store.audit.key
    tally = _Tally({}, [])
    for what, model, text, json in _PLAIN_TABLES:
        # Every one of these tables is keyed on `id`.
        column: InstrumentedAttribute[Any] = model.id  # type: ignore[attr-defined]
        for _, rows in _batches(store, model, column):
            for row in rows:
                if _scrub_row(subject, row, text, json):
                    tally.add(what)
    _erase_alerts(store, subject, tally)
    _erase_case_records(store, subject, tally)
    _erase_evidence(store, subject, objects, tally)
    _erase_audit(store, subject, key, tally)
    ref = subject_ref(key, subject)
    reason, _ = subject.scrub(request.reason or "")
    with store.transaction() as session:
        entry = audit.append(
            session,
            actor=by,
            action="data.erased",
            subject=f"subject:{ref[:16]}",
            data={
                "subject_ref": ref,
                "kind": subject.kind,
                "erased": dict(tally.erased),
                "withheld": list(tally.withheld),
                "reason": reason or None,
                "via": via,
            },
        )
    assert entry is not None  # no entry_key: always appended
    log.info("erasure %d: %s rows changed", entry.id, sum(tally.erased.values()))
    return ErasureReport(
        erasure_id=entry.id,
        kind=subject.kind,
        subject_ref=ref,
        erased=tally.erased,
        withheld=tally.withheld,
    )


def _erase_alerts(store: Store, subject: Subject, tally: _Tally) -> None:
    for session, rows in _batches(store, AlertRow, AlertRow.id):
        held = _held_incidents(session)
        for row in rows:
            if row.incident_id in held:
                if _would_change(subject, row):
                    tally.withheld.append(f"alert {row.id}: its incident is on legal hold")
                continue
            if _scrub_row(subject, row, ("raw", "title"), ("normalized",)):
                tally.add("alerts")


def _erase_case_records(store: Store, subject: Subject, tally: _Tally) -> None:
    for what, name, model, text in _CASE_TABLES:
        column: InstrumentedAttribute[Any] = model.id  # type: ignore[attr-defined]
        for session, rows in _batches(store, model, column):
            held = _held_incidents(session)
            records: list[Any] = rows  # notes and tasks: both have id and incident_id
            for row in records:
                if row.incident_id in held:
                    if any(subject.scrub(getattr(row, c) or "")[1] for c in text):
                        tally.withheld.append(f"{name} {row.id}: its incident is on legal hold")
                    continue
                if _scrub_row(subject, row, text, ()):
                    tally.add(what)


def _would_change(subject: Subject, row: AlertRow) -> bool:
    return bool(subject.scrub(row.raw)[1] or subject.scrub_json(row.normalized)[1])


def _erase_evidence(
    store: Store, subject: Subject, objects: EvidenceObjects, tally: _Tally
) -> None:
    dropped: list[str] = []
    for session, rows in _batches(store, EvidenceItem, EvidenceItem.id):
        held_incidents = _held_incidents(session)
        held_items = _held_items(session)
        for item in rows:
            try:
                data = objects.get(item.uri)
            except Exception as exc:
                tally.withheld.append(
                    f"evidence {item.id}: its object could not be read ({type(exc).__name__})"
                )
                continue
            text = data.decode("utf-8", errors="surrogateescape")
            new_text, found = subject.scrub(text)
            preview, in_preview = subject.scrub(item.redacted_preview or "")
            captured_by, by_subject = subject.scrub(item.captured_by)
            if not (found or in_preview or by_subject):
                continue
            if item.incident_id in held_incidents or item.id in held_items:
                tally.withheld.append(f"evidence {item.id}: on legal hold")
                continue
            if found:
                new = new_text.encode("utf-8", errors="surrogateescape")
                digest = hashlib.sha256(new).hexdigest()
                old_uri = item.uri
                item.uri = objects.put(digest, new)
                item.sha256 = digest
                item.size = len(new)
                dropped.append(old_uri)
            if in_preview:
                item.redacted_preview = preview
            if by_subject:
                item.captured_by = captured_by
            tally.add("evidence")
    # After the commits: an old object goes only when no row (a held one, another
    # incident's capture of the same bytes) still points at it.
    for uri in sorted(set(dropped)):
        with store.session() as session:
            if session.scalar(select(EvidenceItem.id).where(EvidenceItem.uri == uri).limit(1)):
                continue
        try:
            objects.delete(uri)
        except Exception as exc:
            tally.withheld.append(f"an evidence object was not removed ({type(exc).__name__})")


def _intact(key: bytes, entry: AuditEntry, attestation: str | None) -> bool:
    if hmac.compare_digest(entry.hash, audit.entry_mac(key, entry)):
        return True
    return attestation is not None and hmac.compare_digest(
        attestation, audit.erasure_attestation(key, entry)
    )


def _erase_audit(store: Store, subject: Subject, key: bytes, tally: _Tally) -> None:
    for session, rows in _batches(store, AuditEntry, AuditEntry.id):
        attested = {
            erased.entry_id: erased
            for erased in session.scalars(
                select(AuditErasure).where(AuditErasure.entry_id.in_([r.id for r in rows]))
            )
        }
        for entry in rows:
            prior = attested.get(entry.id)
            actor, n_actor = subject.scrub(entry.actor)
            about, n_about = subject.scrub(entry.subject)
            data, n_data = subject.scrub_json(entry.data)
            if not (n_actor or n_about or n_data):
                continue
            if not entry.keyed or not _intact(
                key, entry, prior.attestation if prior is not None else None
            ):
                # Vouching for a row that did not verify would launder an edit.
                tally.withheld.append(
                    f"audit row {entry.id}: does not verify, left as it is "
                    "(run `smokejumper audit verify`)"
                )
                continue
            entry.actor, entry.subject, entry.data = actor, about, data
            attestation = audit.erasure_attestation(key, entry)
            if prior is None:
                session.add(AuditErasure(entry_id=entry.id, attestation=attestation))
            else:
                prior.attestation = attestation
                prior.erased_at = utcnow()
            tally.add("audit_log")
