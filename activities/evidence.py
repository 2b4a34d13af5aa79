"""Capturing evidence: raw bytes to the evidence store, hash and redacted preview to the DB.

The `evidence` row is the idempotency record, keyed on incident, name and content hash. The
store is content-addressed, so a retry after a crash between the upload and the row stores
the same object again at the same address: nothing is stored twice, and the retry returns
the reference the first attempt would have.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from temporalio.exceptions import ApplicationError

from integrations.evidence.base import EvidenceStore, EvidenceStoreError
from integrations.evidence.registry import evidence_store
from smokejumper.config import Settings
from smokejumper.contracts.evidence import CAPTURE_EVIDENCE
from smokejumper.domain.evidence import PREVIEW_CHARS, EvidenceCapture, EvidenceRef, evidence_key
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.redaction import Redactor
from smokejumper.store.db import Store
from smokejumper.store.tables import EvidenceItem

log = logging.getLogger("smokejumper.evidence")


class EvidenceActivities:
    def __init__(self, store: Store, settings: Settings, evidence: EvidenceStore | None = None):
        self.store = store
        self.settings = settings
        self.redactor = Redactor(settings.evidence.redaction_patterns)
        self._evidence = evidence

    @property
    def evidence(self) -> EvidenceStore:
        # Built on first use: `activity_names` builds these activities without any store.
        if self._evidence is None:
            self._evidence = evidence_store(self.settings)
        return self._evidence

    @CAPTURE_EVIDENCE.implementation
    async def capture_evidence(self, capture: EvidenceCapture) -> EvidenceRef:
        """Store the content once per incident, name and hash; return its reference.

        The preview is redacted with the inventory's key formats too (read at each
        capture: the inventory changes while the worker runs)."""
        return await asyncio.to_thread(
            lambda: self._capture(capture, redactor_for(self.store, self.settings))
        )

    def _capture(self, capture: EvidenceCapture, redactor: Redactor | None = None) -> EvidenceRef:
        return self.capture_many([capture], redactor)[0]

    def capture_many(
        self, captures: list[EvidenceCapture], redactor: Redactor | None = None
    ) -> list[EvidenceRef]:
        """Capture several pieces at once: one lookup and one transaction for all of them
        (an assessment captures every alert of an incident). `redactor` finds and masks
        (the configured one when None)."""
        if not captures:
            return []
        redactor = redactor or self.redactor
        # The alerts of a storm often repeat one another: each distinct content is scanned,
        # redacted and stored once per call.
        kinds_of = functools.cache(lambda text: sorted({f.kind for f in redactor.find(text)}))
        preview_of = functools.cache(lambda text: redactor.redact(text)[:PREVIEW_CHARS])
        pieces = [_Piece.of(capture, kinds_of) for capture in captures]
        found = self._rows([piece.key for piece in pieces])
        fresh = [piece for piece in pieces if piece.key not in found]
        stored: dict[str, str] = {}
        for piece in fresh:
            try:
                if piece.digest not in stored:
                    stored[piece.digest] = self.evidence.put(piece.digest, piece.data)
            except EvidenceStoreError as exc:
                raise ApplicationError(
                    str(exc), type=type(exc).__name__, non_retryable=not exc.retryable
                ) from None
            piece.uri = stored[piece.digest]
        if fresh:
            try:
                with self.store.transaction() as session:
                    rows = [piece.row(preview_of) for piece in fresh]
                    session.add_all(rows)
                    session.flush()
                    found.update({row.evidence_key: row for row in rows})
            except IntegrityError:
                # A concurrent attempt wrote some rows first; a row still missing (its
                # incident is gone) fails the same way, so only rows found count.
                found = self._rows([piece.key for piece in pieces])
                missing = [piece.capture.name for piece in pieces if piece.key not in found]
                if missing:
                    raise
            for piece in fresh:
                log.info(
                    "captured evidence %s of incident %s: %s, %d bytes, sha256 %s, findings %s",
                    piece.capture.name,
                    piece.capture.incident_id,
                    piece.capture.kind,
                    len(piece.data),
                    piece.digest,
                    ",".join(piece.kinds) or "none",
                )
        return [_ref(found[piece.key], piece.kinds) for piece in pieces]

    def _rows(self, keys: list[str]) -> dict[str, EvidenceItem]:
        with self.store.session() as session:
            return {
                row.evidence_key: row
                for row in session.scalars(
                    select(EvidenceItem).where(EvidenceItem.evidence_key.in_(keys))
                )
            }


@dataclass
class _Piece:
    """One capture with what is derived from its content before anything is written."""

    capture: EvidenceCapture
    data: bytes
    digest: str
    key: str
    kinds: list[str]
    uri: str = ""

    @classmethod
    def of(cls, capture: EvidenceCapture, kinds_of: Callable[[str], list[str]]) -> _Piece:
        """`kinds_of` names the kinds of what the content holds."""
        data = capture.content.encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        return cls(
            capture,
            data,
            digest,
            evidence_key(capture.incident_id, capture.name, digest),
            kinds_of(capture.content),
        )

    def row(self, preview_of: Callable[[str], str]) -> EvidenceItem:
        """`preview_of` gives the redacted preview of a content."""
        return EvidenceItem(
            incident_id=self.capture.incident_id,
            name=self.capture.name,
            kind=self.capture.kind,
            sha256=self.digest,
            size=len(self.data),
            uri=self.uri,
            redacted_preview=preview_of(self.capture.content),
            captured_by=self.capture.captured_by,
            evidence_key=self.key,
        )


def _ref(row: EvidenceItem, kinds: list[str]) -> EvidenceRef:
    return EvidenceRef(
        incident_id=row.incident_id,
        name=row.name,
        kind=row.kind,
        evidence_key=row.evidence_key,
        sha256=row.sha256,
        size=row.size,
        uri=row.uri,
        redacted_preview=row.redacted_preview or "",
        findings=kinds,
        captured_at=row.captured_at,
        captured_by=row.captured_by,
    )
