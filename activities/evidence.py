"""Capturing evidence: raw bytes to the evidence store, hash and redacted preview to the DB.

The `evidence` row is the idempotency record, keyed on incident, name and content hash. The
store is content-addressed, so a retry after a crash between the upload and the row stores
the same object again at the same address: nothing is stored twice, and the retry returns
the reference the first attempt would have.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from integrations.evidence.base import EvidenceStore, EvidenceStoreError
from integrations.evidence.registry import evidence_store
from smokejumper.config import Settings
from smokejumper.domain.evidence import PREVIEW_CHARS, EvidenceCapture, EvidenceRef, evidence_key
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

    @activity.defn(name="capture_evidence")
    async def capture_evidence(self, capture: EvidenceCapture) -> EvidenceRef:
        """Store the content once per incident, name and hash; return its reference."""
        return await asyncio.to_thread(self._capture, capture)

    def _capture(self, capture: EvidenceCapture) -> EvidenceRef:
        data = capture.content.encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        key = evidence_key(capture.incident_id, capture.name, digest)
        findings = self.redactor.find(capture.content)
        kinds = sorted({finding.kind for finding in findings})

        existing = self._row(key)
        if existing is not None:
            return _ref(existing, kinds)
        try:
            uri = self.evidence.put(digest, data)
        except EvidenceStoreError as exc:
            raise ApplicationError(
                str(exc), type=type(exc).__name__, non_retryable=not exc.retryable
            ) from None
        preview = self.redactor.redact(capture.content)[:PREVIEW_CHARS]
        try:
            with self.store.transaction() as session:
                row = EvidenceItem(
                    incident_id=capture.incident_id,
                    name=capture.name,
                    kind=capture.kind,
                    sha256=digest,
                    size=len(data),
                    uri=uri,
                    redacted_preview=preview,
                    captured_by=capture.captured_by,
                    evidence_key=key,
                )
                session.add(row)
                session.flush()
                ref = _ref(row, kinds)
        except IntegrityError:
            # A concurrent attempt wrote the row first; the incident's missing row would
            # fail the same way, so only a row actually found counts as success.
            existing = self._row(key)
            if existing is None:
                raise
            return _ref(existing, kinds)
        log.info(
            "captured evidence %s of incident %s: %s, %d bytes, sha256 %s, findings %s",
            capture.name,
            capture.incident_id,
            capture.kind,
            len(data),
            digest,
            ",".join(kinds) or "none",
        )
        return ref

    def _row(self, key: str) -> EvidenceItem | None:
        with self.store.session() as session:
            return session.scalar(select(EvidenceItem).where(EvidenceItem.evidence_key == key))


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
