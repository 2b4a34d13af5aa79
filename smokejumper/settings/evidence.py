"""`[evidence]`: the evidence store (local or S3)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from smokejumper.redaction import Redactor
from smokejumper.settings.sections import Section


class EvidenceSettings(Section):
    store: Literal["local", "s3"] = Field(
        default="local", description="Where captured evidence is kept: `local` files or `s3`."
    )
    directory: Path | None = Field(
        default=None,
        description="Folder of the `local` evidence store. Unset: data_dir/evidence.",
    )
    s3_bucket: str | None = Field(default=None, description="Bucket of the `s3` evidence store.")
    s3_prefix: str = Field(default="evidence/", description="Key prefix in the bucket.")
    s3_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of an S3-compatible service (MinIO, moto_server). Unset: AWS.",
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="Evidence of resolved and closed incidents is deleted this many days after "
        "capture, except what a legal hold keeps; each deletion is audited. Unset: kept.",
    )
    redaction_patterns: dict[str, str] = Field(
        default_factory=dict,
        description="Extra redaction patterns: kind name (lower case) to regular expression.",
    )

    @field_validator("redaction_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: dict[str, str]) -> dict[str, str]:
        # Refused at load time rather than when the first worker builds its redactor.
        Redactor(patterns)
        return patterns

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> EvidenceSettings:
        if self.store == "s3" and not self.s3_bucket:
            raise ValueError("evidence.s3_bucket is required when evidence.store is s3")
        return self
