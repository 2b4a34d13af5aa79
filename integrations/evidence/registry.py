"""The evidence store `evidence.store` names, built from its settings."""

from __future__ import annotations

from integrations.evidence.base import EvidenceStore, EvidenceStoreError
from integrations.evidence.local import LocalEvidenceStore
from integrations.evidence.s3 import S3EvidenceStore
from smokejumper.config import Settings

STORE_NAMES = frozenset({"local", "s3"})


def evidence_store(settings: Settings) -> EvidenceStore:
    config = settings.evidence
    if config.store == "local":
        return LocalEvidenceStore(settings.evidence_directory)
    if config.store == "s3":
        if not config.s3_bucket:
            raise EvidenceStoreError("evidence.s3_bucket is not set", retryable=False)
        return S3EvidenceStore(config.s3_bucket, config.s3_prefix, config.s3_endpoint_url)
    raise EvidenceStoreError(
        f"unknown evidence store {config.store!r}; known: {', '.join(sorted(STORE_NAMES))}",
        retryable=False,
    )
