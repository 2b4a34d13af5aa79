"""Routing: which playbook an alert starts. The first matching route wins."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from smokejumper.domain.alerts import Alert, AlertKind, Severity


class Route(BaseModel):
    """A trigger: kinds (any when empty), a minimum severity and label matchers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    playbook: str = Field(min_length=1, max_length=100)
    kinds: tuple[AlertKind, ...] = ()
    min_severity: Severity = Severity.INFO
    labels: dict[str, str] = Field(default_factory=dict)
    origin: str = Field(default="config", description="Where the route was declared.")

    def matches(self, alert: Alert) -> bool:
        if self.kinds and alert.kind not in self.kinds:
            return False
        if alert.severity.rank < self.min_severity.rank:
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
