"""What the API returns about incidents (and the CLI prints)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from smokejumper.domain.incidents import IncidentState


class IncidentSummary(BaseModel):
    id: str
    number: int
    title: str
    kind: str
    severity: str
    status: str
    playbook: str | None
    alert_count: int
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    workflow_id: str


class AlertSummary(BaseModel):
    id: str
    source: str
    kind: str
    severity: str
    title: str
    received_at: datetime
    occurred_at: datetime
    deduplicated: bool
    dispatched: bool


class TimelineItem(BaseModel):
    at: datetime
    kind: str
    step: str | None
    actor: str
    message: str
    data: dict[str, Any]


class IncidentDetail(IncidentSummary):
    fingerprint: str
    route: dict[str, Any]
    principal: dict[str, Any]
    target: dict[str, Any]
    labels: dict[str, Any]
    owasp: list[str]
    atlas: list[str]
    acknowledged_at: datetime | None
    contained_at: datetime | None
    resolved_at: datetime | None
    alerts: list[AlertSummary]
    timeline: list[TimelineItem]
    temporal_ui_url: str | None = None
    live: IncidentState | None = Field(
        default=None,
        description="The playbook's own view (current step, pending approvals, clocks); "
        "absent when its workflow is not running or does not answer in time.",
    )


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    total: int
    limit: int
    offset: int
