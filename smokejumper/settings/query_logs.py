"""`[query_logs.<application>]`: where an application's gateway writes its query log, which
`model-extraction` keeps as evidence before it throttles or blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from smokejumper.settings.sections import Section

PRINCIPAL_TYPES = ("api_key", "user", "tenant", "session")


class QueryLogSettings(Section):
    """One application's query log: one JSON object per request, in JSONL files or under an
    S3 prefix (plain or gzip), as gateways and log shippers write them."""

    source: Literal["jsonl", "s3"] = Field(
        description="`jsonl`: files matching `path`; `s3`: objects under `s3_prefix`."
    )
    path: str | None = Field(
        default=None,
        description="`jsonl`: a file or a glob of files, e.g. /var/log/gateway/*.jsonl "
        "(`.gz` files are read compressed).",
    )
    s3_bucket: str | None = Field(default=None, description="`s3`: the bucket.")
    s3_prefix: str = Field(default="", description="`s3`: the key prefix of the log objects.")
    s3_endpoint_url: str | None = Field(
        default=None, description="`s3`: an S3-compatible endpoint. Unset: AWS."
    )
    timestamp_field: str = Field(
        default="timestamp",
        description="Field of each record with its time: ISO 8601 or epoch seconds; dotted "
        "for a nested field (`metadata.startTime`).",
    )
    principal_fields: dict[str, str] = Field(
        default_factory=lambda: {
            "api_key": "api_key",
            "user": "user",
            "tenant": "tenant",
            "session": "session_id",
        },
        description="Field of each record naming the principal of each kind (dotted paths).",
    )
    lookback_minutes: int = Field(
        default=60,
        ge=0,
        le=7 * 24 * 60,
        description="The window starts this long before the incident's first alert.",
    )
    max_records: int = Field(
        default=50_000, ge=1, le=1_000_000, description="Beyond this, the rest is counted only."
    )

    @field_validator("principal_fields")
    @classmethod
    def _known_principals(cls, fields: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(fields) - set(PRINCIPAL_TYPES))
        if unknown:
            raise ValueError(
                f"unknown principal type {unknown[0]!r}; use {', '.join(PRINCIPAL_TYPES)}"
            )
        return fields

    @model_validator(mode="after")
    def _source_is_complete(self) -> QueryLogSettings:
        if self.source == "jsonl" and not self.path:
            raise ValueError("path is required when source is jsonl")
        if self.source == "s3" and not self.s3_bucket:
            raise ValueError("s3_bucket is required when source is s3")
        if self.source == "jsonl" and self.path and not Path(self.path).is_absolute():
            raise ValueError("path must be absolute (the worker's working directory varies)")
        return self
