"""`[[pollers]]`: alert feeds smokejumper pulls (JSONL files, HTTP cursors, model integrity)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
)

from smokejumper.settings.intake import SOURCE_NAME
from smokejumper.settings.sections import Secret, Section

POLLER_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class _PollerBase(Section):
    name: str = Field(
        pattern=POLLER_NAME,
        description="Unique poller name; keys its cursor in the store and names its dead "
        "letters (endpoint `poller:<name>`). Renaming a poller starts it from scratch.",
    )


class JsonlPollerSettings(_PollerBase):
    """Tail JSON-lines files: one native event of `source`'s format per line."""

    kind: Literal["jsonl"] = Field(description="Tail JSON-lines files.")
    source: str = Field(
        pattern=SOURCE_NAME,
        description="Source the events come from: a configured source (its `format` picks "
        "the normalizer) or a normalizer name.",
    )
    path: str = Field(
        min_length=1,
        description="A file, a directory (its regular files) or a glob such as "
        "'/var/log/guard/*.jsonl'.",
    )
    interval_seconds: float = Field(default=10.0, gt=0, description="Seconds between runs.")


class HttpPollerSettings(_PollerBase):
    """Page through an HTTP endpoint that returns events after a cursor."""

    kind: Literal["http"] = Field(description="GET pages of events after a cursor.")
    source: str = Field(
        pattern=SOURCE_NAME,
        description="Source the events come from: a configured source (its `format` picks "
        "the normalizer) or a normalizer name.",
    )
    url: str = Field(
        pattern=r"^https?://", description="Endpoint to GET; the cursor is added as a query."
    )
    interval_seconds: float = Field(default=30.0, gt=0, description="Seconds between runs.")
    cursor_param: str = Field(
        default="cursor", min_length=1, description="Query parameter the cursor is sent in."
    )
    items_field: str = Field(
        default="items", min_length=1, description="Response field holding the events."
    )
    cursor_field: str = Field(
        default="next_cursor",
        min_length=1,
        description="Response field holding the cursor of the next page.",
    )
    token: Secret | None = Field(
        default=None, description="Sent as `Authorization: Bearer <token>`; a file:/env: reference."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")


class ModelIntegrityPollerSettings(_PollerBase):
    """Re-hash every inventoried model artifact and alert on a digest mismatch."""

    kind: Literal["model-integrity"] = Field(
        description="Compare model artifacts with the inventory's digests."
    )
    interval_seconds: float = Field(default=3600.0, gt=0, description="Seconds between runs.")
    source: str = Field(
        default="model-integrity",
        pattern=SOURCE_NAME,
        description="Source name the alerts carry (payloads are always in the "
        "model-integrity format).",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Endpoint of an S3-compatible store (MinIO, Ceph, ...) for `s3://` "
        "artifacts. Unset: AWS S3, or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL if set. Region "
        "and credentials always come from the standard AWS environment and config files.",
    )


PollerSettings = Annotated[
    JsonlPollerSettings | HttpPollerSettings | ModelIntegrityPollerSettings,
    Field(discriminator="kind"),
]
