"""The audit log: append-only and chained under a key kept outside the database.

Each row's hash is an HMAC-SHA256, under the audit key, of the row's every column (id and
entry_key included) and the previous row's hash, canonicalised with RFC 8785 (JSON
Canonicalization Scheme). Whoever can write the database but lacks the key cannot edit,
delete or reorder a row and recompute the chain. Deleting the last rows leaves a chain that
fits, so every append also writes a signed head checkpoint (last id, last hash, row count)
outside the database, to the evidence store; `verify` compares the log with it.

An erasure request (GDPR Art. 17) may replace personal data in a row: the row keeps its
hash, so the chain still links, and an attestation in `audit_erasures` (an HMAC under the
key of the row's id, its hash and the MAC of its new content) vouches for what it holds
now; `verify` accepts it in place of the original content and reports the row as erased.

Rows written before the key existed (before migration 0007) keep their unkeyed sha256
chain: `verify` checks them as before and reports them as legacy; the first keyed row
chains onto the last of them. An unkeyed row after a keyed one is a forgery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import rfc8785
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from smokejumper.store.audit_seal import PENDING_HEAD, SEAL, AuditSeal
from smokejumper.store.db import Store
from smokejumper.store.tables import AuditEntry, AuditErasure

log = logging.getLogger(__name__)

GENESIS = "0" * 64
CHECKPOINT_VERSION = 1
# RFC 8785 numbers are IEEE doubles; larger integers are kept as their decimal string.
_SAFE_INTEGER = 2**53 - 1


class AuditKeyMissing(RuntimeError):
    """The store was opened without the audit key, so it cannot append or verify."""


def legacy_hash(
    prev_hash: str, at: datetime, actor: str, action: str, subject: str, data: dict[str, Any]
) -> str:
    """The unkeyed hash of rows written before migration 0007."""
    canonical = json.dumps(
        {
            "prev": prev_hash,
            "at": _utc(at).isoformat(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "data": data,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _mac(key: bytes, document: dict[str, Any]) -> str:
    return hmac.new(key, rfc8785.dumps(document), hashlib.sha256).hexdigest()


def entry_mac(key: bytes, entry: AuditEntry) -> str:
    return _mac(
        key,
        {
            "id": entry.id,
            "at": _utc(entry.at).isoformat(),
            "actor": entry.actor,
            "action": entry.action,
            "subject": entry.subject,
            "data": entry.data,
            "prev_hash": entry.prev_hash,
            "entry_key": entry.entry_key,
            "keyed": True,
        },
    )


def erasure_attestation(key: bytes, entry: AuditEntry) -> str:
    """What vouches for a row an erasure request changed: the row's id and (unchanged)
    hash bound to the MAC of its content as the erasure left it."""
    return _mac(
        key,
        {"erased_entry": entry.id, "hash": entry.hash, "content": entry_mac(key, entry)},
    )


def _attested(session: Session, key: bytes, entry: AuditEntry) -> bool:
    """Whether an erasure vouches for the row's present content."""
    attestation = session.scalar(
        select(AuditErasure.attestation).where(AuditErasure.entry_id == entry.id)
    )
    return attestation is not None and hmac.compare_digest(
        attestation, erasure_attestation(key, entry)
    )


def _json_safe(value: Any) -> Any:
    """`data` as JSON reads it back, so what is hashed is what is stored."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return value if abs(value) <= _SAFE_INTEGER else str(value)
    return str(value)


def _seal(session: Session) -> AuditSeal:
    seal: AuditSeal | None = session.info.get(SEAL)
    if seal is None:
        raise AuditKeyMissing(
            "this store was opened without the audit key; open it with the deployment's "
            "settings (smokejumper.store.open_store)"
        )
    return seal


@dataclass(frozen=True)
class Head:
    """The signed state of the log's end: what deleting the last rows cannot keep."""

    last_id: int
    last_hash: str
    count: int
    legacy_through: int | None

    def document(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "last_id": self.last_id,
            "last_hash": self.last_hash,
            "count": self.count,
            "legacy_through": self.legacy_through,
        }

    def signed(self, key: bytes) -> bytes:
        body = self.document()
        return rfc8785.dumps({**body, "mac": _mac(key, body)})


def _head(session: Session, last: AuditEntry) -> Head:
    count = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    legacy = session.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.keyed.is_(False)))
    return Head(last.id, last.hash, count, legacy)


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    data: dict[str, Any],
    entry_key: str | None = None,
) -> AuditEntry | None:
    """Append one row inside the caller's transaction; None if `entry_key` was written.

    The head checkpoint goes out when the transaction commits."""
    seal = _seal(session)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # Appenders queue here, so two never chain onto the same previous row.
        session.execute(text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
    if entry_key is not None and session.scalar(
        select(AuditEntry.id).where(AuditEntry.entry_key == entry_key)
    ):
        return None
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    if (
        last is not None
        and last.keyed
        and not hmac.compare_digest(last.hash, entry_mac(seal.key, last))
        and not _attested(session, seal.key, last)
    ):
        # Appending goes on (the record matters more), but loudly: either this process
        # reads another key than the one that wrote the log, or the last row was edited.
        log.error(
            "audit row %s does not verify under this process's audit key: another key "
            "(audit.key_file differs between processes?) or an edited row; run "
            "`smokejumper audit verify`",
            last.id,
        )
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor=actor,
        action=action,
        subject=subject,
        data=_json_safe(data),
        prev_hash=last.hash if last is not None else GENESIS,
        # The id is part of the MAC and known only once the row is inserted; until the
        # second flush the hash column holds a unique placeholder.
        hash=hashlib.sha256(f"pending:{id(session)}:{datetime.now(UTC)}".encode()).hexdigest(),
        entry_key=entry_key,
        keyed=True,
    )
    session.add(entry)
    session.flush()
    entry.hash = entry_mac(seal.key, entry)
    session.flush()
    if seal.checkpoints is not None:
        session.info[PENDING_HEAD] = _head(session, entry).signed(seal.key)
    return entry


@dataclass(frozen=True)
class ChainProblem:
    entry_id: int
    problem: str


@dataclass
class ChainReport:
    count: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    # The last row of the unkeyed chain from before the key, if any.
    legacy_through: int | None = None
    # Where the head checkpoint was read, or None when checkpoints are off.
    checkpoint: str | None = None
    # Rows whose personal data an erasure replaced, each vouched for by its attestation.
    erased: list[int] = field(default_factory=list)


def _check_checkpoint(
    seal: AuditSeal, report: ChainReport, rows: dict[int, tuple[str, int]]
) -> None:
    """`rows`: id → (hash, rows up to and including it)."""
    if seal.checkpoints is None:
        return
    report.checkpoint = seal.checkpoints.location
    raw = seal.checkpoints.read()
    last_id = max(rows, default=0)
    if raw is None:
        if report.count and (report.legacy_through or 0) < last_id:
            report.problems.append(
                ChainProblem(
                    last_id,
                    f"no head checkpoint at {report.checkpoint}: it was deleted, so deleted "
                    "last rows cannot be ruled out",
                )
            )
        return
    try:
        document = json.loads(raw)
        mac = document.pop("mac")
        head = Head(
            int(document["last_id"]),
            str(document["last_hash"]),
            int(document["count"]),
            None if document["legacy_through"] is None else int(document["legacy_through"]),
        )
        genuine = hmac.compare_digest(str(mac), _mac(seal.key, head.document()))
    except (ValueError, KeyError, TypeError, AttributeError):
        genuine = False
    if not genuine:
        report.problems.append(
            ChainProblem(
                last_id,
                f"head checkpoint at {report.checkpoint} is not signed with the audit key",
            )
        )
        return
    row = rows.get(head.last_id)
    if row is None:
        report.problems.append(
            ChainProblem(
                head.last_id,
                f"row {head.last_id}, the last in the head checkpoint ({head.count} rows), is "
                f"missing: the log ends at row {last_id} with {report.count} rows, so its "
                "last rows were deleted",
            )
        )
    elif row[0] != head.last_hash:
        report.problems.append(
            ChainProblem(head.last_id, "does not match the head checkpoint's hash: replaced")
        )
    elif row[1] != head.count:
        report.problems.append(
            ChainProblem(
                head.last_id,
                f"the head checkpoint counted {head.count} rows up to here, the log has "
                f"{row[1]}: rows were deleted or inserted",
            )
        )
    if head.legacy_through != report.legacy_through:
        report.problems.append(
            ChainProblem(
                report.legacy_through or head.legacy_through or 0,
                f"unkeyed rows run through row {report.legacy_through}, the head checkpoint "
                f"says {head.legacy_through}: rows were rewritten without the key",
            )
        )


def verify_chain(store: Store) -> ChainReport:
    """Walk the chain and compare its end with the head checkpoint. A store without the
    key can verify a log of legacy rows only (one upgraded, not yet appended to)."""
    seal = store.audit
    report = ChainReport()
    prev_hash = GENESIS
    prev_id: int | None = None
    keyed_seen: int | None = None
    rows: dict[int, tuple[str, int]] = {}
    with store.session() as session:
        attested = {
            entry_id: attestation
            for entry_id, attestation in session.execute(
                select(AuditErasure.entry_id, AuditErasure.attestation)
            )
        }
        for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
            report.count += 1
            rows[entry.id] = (entry.hash, report.count)
            if entry.prev_hash != prev_hash:
                after = f"after row {prev_id}" if prev_id is not None else "at the start"
                report.problems.append(
                    ChainProblem(entry.id, f"chain broken {after}: a row was deleted or reordered")
                )
            if entry.keyed:
                if seal is None:
                    raise AuditKeyMissing(f"row {entry.id} is keyed and the audit key is not here")
                keyed_seen = keyed_seen or entry.id
                expected = entry_mac(seal.key, entry)
            elif keyed_seen is not None:
                report.problems.append(
                    ChainProblem(
                        entry.id,
                        f"unkeyed row after keyed row {keyed_seen}: rewritten without the key",
                    )
                )
                expected = legacy_hash(
                    entry.prev_hash, entry.at, entry.actor, entry.action, entry.subject, entry.data
                )
            else:
                report.legacy_through = entry.id
                expected = legacy_hash(
                    entry.prev_hash, entry.at, entry.actor, entry.action, entry.subject, entry.data
                )
            if not hmac.compare_digest(entry.hash, expected):
                attestation = attested.get(entry.id)
                if (
                    attestation is not None
                    and seal is not None
                    and hmac.compare_digest(attestation, erasure_attestation(seal.key, entry))
                ):
                    report.erased.append(entry.id)
                else:
                    report.problems.append(
                        ChainProblem(entry.id, "content does not match its hash: edited")
                    )
            prev_hash = entry.hash
            prev_id = entry.id
    if seal is not None:
        _check_checkpoint(seal, report, rows)
    return report


def verify(store: Store) -> tuple[int, list[ChainProblem]]:
    """(rows checked, problems); see `verify_chain`."""
    report = verify_chain(store)
    return report.count, report.problems
