"""The provenance check of `model-compromise`: hash a model version's artifact and the
datasets the inventory links it to, now, and compare each with the inventory's digest.

Only reads (the inventory, and the bytes of artifacts and datasets), so a retry simply
hashes again. Local paths, `file://` and `s3://` URIs are read as `integrations.digest`
reads them; S3-compatible stores are reached through the standard AWS configuration
(`AWS_ENDPOINT_URL_S3`) or `s3_endpoint_url`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from integrations.digest import artifact_digest, normalize_digest
from smokejumper.contracts.integrity import VERIFY_INTEGRITY
from smokejumper.domain.integrity import DigestCheck, DigestVerdict, IntegrityQuery, IntegrityReport
from smokejumper.store.db import Store
from smokejumper.store.tables import (
    InventoryDataset,
    InventoryLink,
    InventoryModel,
    InventoryModelVersion,
)


@dataclass(frozen=True)
class _Subject:
    name: str
    uri: str | None
    digest: str | None


class IntegrityActivities:
    def __init__(self, store: Store, *, s3_endpoint_url: str | None = None) -> None:
        self.store = store
        self.s3_endpoint_url = s3_endpoint_url

    @VERIFY_INTEGRITY.implementation
    async def verify_integrity(self, query: IntegrityQuery) -> IntegrityReport:
        """The version's artifact and its training datasets, each hashed and compared."""
        return await asyncio.to_thread(self._verify, query)

    def _verify(self, query: IntegrityQuery) -> IntegrityReport:
        if not query.model or not query.version:
            return IntegrityReport(
                model=DigestCheck(subject="model:unknown", how="the alerts name no model version")
            )
        subject = f"model:{query.model}@{query.version}"
        with self.store.session() as session:
            version = _version(session, query.model, query.version)
            if version is None:
                return IntegrityReport(
                    model=DigestCheck(subject=subject, how="the inventory does not list it")
                )
            artifact = _Subject(subject, version.artifact_uri, version.digest)
            datasets = [
                _Subject(f"dataset:{d.name}", d.uri, d.digest) for d in _datasets(session, version)
            ]
        model = self._check(artifact)
        if model.verdict is DigestVerdict.UNVERIFIED and model.expected and query.alert_digest:
            # The artifact cannot be read from here; the alert's digest is the best evidence
            # left, and the check says so.
            model = _compare(
                artifact,
                normalize_digest(query.alert_digest),
                f"as the alert reports ({model.how})",
            )
        return IntegrityReport(model=model, datasets=[self._check(d) for d in datasets])

    def _check(self, subject: _Subject) -> DigestCheck:
        expected = normalize_digest(subject.digest) if subject.digest else None
        if expected is None:
            return DigestCheck(
                subject=subject.name, uri=subject.uri, how="no SHA-256 digest in the inventory"
            )
        if not subject.uri:
            return DigestCheck(
                subject=subject.name,
                expected=expected,
                how="the inventory records no location to read it from",
            )
        check = artifact_digest(subject.uri, s3_endpoint_url=self.s3_endpoint_url)
        if check.digest is None:
            return DigestCheck(
                subject=subject.name,
                uri=subject.uri,
                expected=expected,
                how=f"{check.status}: {check.reason}",
            )
        return _compare(subject, check.digest, "hashed now")


def _compare(subject: _Subject, actual: str | None, how: str) -> DigestCheck:
    expected = normalize_digest(subject.digest or "")
    verdict = (
        DigestVerdict.UNVERIFIED
        if actual is None or expected is None
        else DigestVerdict.MATCH
        if actual == expected
        else DigestVerdict.MISMATCH
    )
    return DigestCheck(
        subject=subject.name,
        uri=subject.uri,
        expected=expected,
        actual=actual,
        verdict=verdict,
        how=how,
    )


def _version(session: Session, model: str, version: str) -> InventoryModelVersion | None:
    return session.scalars(
        select(InventoryModelVersion)
        .join(InventoryModel, InventoryModelVersion.model_id == InventoryModel.id)
        .where(InventoryModel.name == model, InventoryModelVersion.version == version)
    ).first()


def _datasets(session: Session, version: InventoryModelVersion) -> list[InventoryDataset]:
    """Datasets linked to the version, in either direction (`trained_on`, `fine_tuned_on`,
    a dataset that `trains` it ...), by name."""
    links = session.scalars(
        select(InventoryLink).where(
            or_(
                (InventoryLink.src_type == "model_version")
                & (InventoryLink.src_id == version.id)
                & (InventoryLink.dst_type == "dataset"),
                (InventoryLink.dst_type == "model_version")
                & (InventoryLink.dst_id == version.id)
                & (InventoryLink.src_type == "dataset"),
            )
        )
    ).all()
    ids = {link.dst_id if link.dst_type == "dataset" else link.src_id for link in links}
    if not ids:
        return []
    return list(
        session.scalars(
            select(InventoryDataset)
            .where(InventoryDataset.id.in_(ids))
            .order_by(InventoryDataset.name)
        )
    )
