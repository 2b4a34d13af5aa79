"""`[scheduler]`: the scheduler's lease and jobs."""

from __future__ import annotations

from pydantic import (
    Field,
)

from smokejumper.settings.sections import Section


class SchedulerSettings(Section):
    outbox_interval_seconds: float = Field(default=5.0, gt=0)
    outbox_min_age_seconds: float = Field(
        default=10.0, ge=0, description="Leave fresh alerts to the API's own dispatch first."
    )
    lease_seconds: float = Field(default=30.0, gt=1)
