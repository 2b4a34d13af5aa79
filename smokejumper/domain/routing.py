"""Routing: which playbook an alert starts. The first matching route wins."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smokejumper.domain.alerts import Alert, AlertKind, Severity
from smokejumper.domain.taxonomy import OWASP_LLM_2025, atlas_label, owasp_label


class Route(BaseModel):
    """A trigger: kinds (any when empty), a minimum severity and label matchers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    playbook: str = Field(min_length=1, max_length=100)
    kinds: tuple[AlertKind, ...] = ()
    min_severity: Severity = Severity.INFO
    labels: dict[str, str] = Field(default_factory=dict)
    taxonomy: tuple[str, ...] = Field(
        default=(),
        description="OWASP LLM or MITRE ATLAS ids; the alert must name one of them (a "
        "technique matches its sub-techniques). Empty: any.",
    )
    origin: str = Field(default="config", description="Where the route was declared.")

    @field_validator("taxonomy")
    @classmethod
    def _known_ids(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        # An id nobody can send (a typo) would make the route match nothing, silently.
        checked = []
        for value in ids:
            if value.strip().upper() in OWASP_LLM_2025:
                checked.append(owasp_label(value).split(":", 1)[0])
            else:
                checked.append(atlas_label(value).split(" ", 1)[0])
        return tuple(checked)

    def matches(self, alert: Alert) -> bool:
        if self.kinds and alert.kind not in self.kinds:
            return False
        if alert.severity.rank < self.min_severity.rank:
            return False
        if self.taxonomy and not any(
            named == wanted or named.startswith(f"{wanted}.")
            for named in (*alert.owasp, *alert.atlas)
            for wanted in self.taxonomy
        ):
            return False
        return all(alert.labels.get(key) == value for key, value in self.labels.items())


class RouteDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    playbook: str
    matched: bool
    origin: str
    reason: str


class Router:
    def __init__(self, routes: Iterable[Route], fallback_playbook: str) -> None:
        self.routes = tuple(routes)
        self.fallback_playbook = fallback_playbook

    def route(self, alert: Alert) -> RouteDecision:
        for index, route in enumerate(self.routes):
            if route.matches(alert):
                return RouteDecision(
                    playbook=route.playbook,
                    matched=True,
                    origin=route.origin,
                    reason=f"route #{index + 1} ({route.origin}) matched kind={alert.kind.value} "
                    f"severity={alert.severity.value}",
                )
        return RouteDecision(
            playbook=self.fallback_playbook,
            matched=False,
            origin="fallback",
            reason="no playbook route matched; the incident is open for triage",
        )
