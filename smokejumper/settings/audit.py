"""`[audit]`: the audit log's key and its signed head."""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    Field,
)

from smokejumper.settings.sections import Section


class AuditSettings(Section):
    """The audit log's chain key and head checkpoint (see docs/operations.md)."""

    key_file: Path | None = Field(
        default=None,
        description="File holding the audit log's HMAC key (kept outside the database; "
        "every process of one deployment must read the same key). Unset: "
        "data_dir/audit.key, generated once (mode 0600).",
    )
    checkpoint: bool = Field(
        default=True,
        description="Write a signed head checkpoint (last row, its hash, the row count) to "
        "the evidence store after every append, so `audit verify` detects deleted last rows.",
    )
