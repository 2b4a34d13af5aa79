"""The generic smokejumper alert: what every source format normalizes into."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from smokejumper.domain.taxonomy import AtlasId, OwaspId

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _finite(value: str | int | float | bool | None) -> str | int | float | bool | None:
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    return value


# NaN and the infinities are no JSON numbers: an alert holding one could not be stored as
# JSON or served back. Checked on the value, so the error names the detail, not a union arm.
DetailValue = Annotated[str | int | float | bool | None, AfterValidator(_finite)]


class AlertKind(StrEnum):
    DATA_LEAKAGE = "data_leakage"
    PROMPT_INJECTION = "prompt_injection"
    JAILBREAK = "jailbreak"
    MODEL_COMPROMISE = "model_compromise"
    MODEL_EXTRACTION = "model_extraction"
    UNBOUNDED_CONSUMPTION = "unbounded_consumption"
    REDTEAM_FINDING = "redteam_finding"
    OTHER = "other"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        # Looked up for every route of every alert: a table, not a walk over the members.
        return _SEVERITY_RANKS[self]


_SEVERITY_RANKS = {severity: rank for rank, severity in enumerate(Severity)}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Principal(_Strict):
    """Who caused or is behind the alert."""

    user: Name | None = None
    api_key_id: Name | None = None
    tenant: Name | None = None
    session_id: Name | None = None
    ip: Name | None = None


class Target(_Strict):
    """What the alert is about."""

    application: Name | None = None
    endpoint: Name | None = None
    model: Name | None = None
    model_version: Name | None = None


class MatchedSpan(_Strict):
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    label: Name
    field: Annotated[str, StringConstraints(pattern=r"^(prompt|response|document|tool)$")] = (
        "response"
    )


class Evidence(_Strict):
    """Raw evidence. Treated as sensitive: stored, hashed, never echoed unredacted."""

    prompt: str | None = Field(default=None, max_length=200_000)
    response: str | None = Field(default=None, max_length=200_000)
    matched_spans: list[MatchedSpan] = Field(default_factory=list, max_length=1000)
    scores: dict[Name, FiniteFloat] = Field(default_factory=dict)
    details: dict[Name, DetailValue] = Field(default_factory=dict)


class Alert(_Strict):
    """The generic alert format accepted at `POST /api/v1/alerts`."""

    source: Name = Field(description="The tool or team that raised the alert.")
    kind: AlertKind
    severity: Severity
    title: ShortText
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    description: str | None = Field(default=None, max_length=10_000)
    principal: Principal = Field(default_factory=Principal)
    target: Target = Field(default_factory=Target)
    evidence: Evidence = Field(default_factory=Evidence)
    labels: dict[Name, Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=dict
    )
    owasp: list[OwaspId] = Field(default_factory=list, max_length=10)
    atlas: list[AtlasId] = Field(default_factory=list, max_length=50)
    dedup_key: Name | None = Field(
        default=None, description="Overrides the fingerprint: alerts sharing it share a case."
    )
    event_id: Name | None = Field(
        default=None,
        description="The sender's own id of this event. A request whose source already sent "
        "it (a retry) within the last 24 hours is answered with the first result and stores "
        "nothing new.",
    )
