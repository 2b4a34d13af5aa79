"""Provenance of a model version: its artifact and the datasets the inventory says it was
trained on, each hashed now and compared with the digest the inventory records.

OWASP LLM03 (Supply Chain) and LLM04 (Data and Model Poisoning); ATLAS AML.T0018
(Manipulate AI Model) for the artifact, AML.T0020 (Poison Training Data) for the datasets.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class DigestVerdict(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    # Nothing to compare: no digest on record, or the bytes could not be read now.
    UNVERIFIED = "unverified"


class IntegrityQuery(BaseModel):
    incident_id: int
    model: str | None = None
    version: str | None = None
    # What the alert says the artifact hashed to: compared only when the artifact itself
    # cannot be read now.
    alert_digest: str | None = None


class DigestCheck(BaseModel):
    """One artifact or dataset: what the inventory records and what its bytes hash to now."""

    subject: str = Field(description="`model:<name>@<version>` or `dataset:<name>`.")
    uri: str | None = None
    expected: str | None = None
    actual: str | None = None
    verdict: DigestVerdict = DigestVerdict.UNVERIFIED
    # How `actual` was obtained ("hashed now", "as the alert reports"), or why there is none.
    how: str = "not checked"


class IntegrityReport(BaseModel):
    """The model version's artifact and its training data, checked."""

    model: DigestCheck = Field(default_factory=lambda: DigestCheck(subject="model:unknown"))
    datasets: list[DigestCheck] = Field(default_factory=list)

    @property
    def poisoned(self) -> list[DigestCheck]:
        """Training datasets whose bytes no longer match the inventory's digest."""
        return [d for d in self.datasets if d.verdict is DigestVerdict.MISMATCH]
