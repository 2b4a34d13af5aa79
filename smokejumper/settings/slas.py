"""`[slas.<severity>]`: how soon an incident of that severity must be acknowledged and
contained, and who hears when it is not."""

from __future__ import annotations

from pydantic import Field, model_validator

from smokejumper.settings.sections import Section

# A week: a longer target is a typo, not a service level.
_MINUTES_MAX = 10_080


class SlaPolicy(Section):
    acknowledge_minutes: int | None = Field(
        default=None,
        ge=1,
        le=_MINUTES_MAX,
        description="Minutes from opening by which a responder must acknowledge it.",
    )
    contain_minutes: int | None = Field(
        default=None,
        ge=1,
        le=_MINUTES_MAX,
        description="Minutes from opening by which it must be contained.",
    )
    remind_before_minutes: int = Field(
        default=5,
        ge=0,
        le=_MINUTES_MAX,
        description="A reminder (`sla.reminded`) this many minutes before each target; 0: none.",
    )
    escalate_to: list[str] = Field(
        default_factory=list,
        description="Who is told at a breach (people or `group:<name>`); empty: the "
        "incident's channel and `slack.escalate_to`.",
    )

    @model_validator(mode="after")
    def _some_target(self) -> SlaPolicy:
        if self.acknowledge_minutes is None and self.contain_minutes is None:
            raise ValueError("set acknowledge_minutes, contain_minutes or both")
        return self
