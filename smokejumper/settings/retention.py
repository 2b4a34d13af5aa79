"""`[retention]`: how long raw alert bodies and dead letters are kept."""

from __future__ import annotations

from pydantic import Field

from smokejumper.settings.sections import Section


class RetentionSettings(Section):
    """Evidence has its own period, `evidence.retention_days` (see docs/evidence.md)."""

    raw_alerts_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="An alert's body as received is deleted this many days after it arrived "
        "(its normalised record stays with the incident), except for incidents on legal "
        "hold; audited. Unset: kept.",
    )
    dead_letters_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="Dead letters are deleted this many days after they arrived, except one "
        "replayed into an incident on legal hold; audited. Unset: kept.",
    )
