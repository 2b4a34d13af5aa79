"""Where an incident's service levels stand, as the console shows them: each target's
state from `incidents.slas`, with how much time is left or how late it is, and whether it
is close enough to its deadline to warn about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from smokejumper.domain.alerts import Severity
from smokejumper.incidents.slas import Policies, SlaView, slas_of
from smokejumper.store.tables import Incident

Level = Literal["met", "met_late", "running", "soon", "breached"]
Marker = Literal["breached", "soon"]


@dataclass(frozen=True)
class SlaLine:
    view: SlaView
    level: Level
    # Seconds to the deadline while running; past it when breached or met late.
    left_seconds: float | None = None
    late_seconds: float | None = None


def _warning(policies: Policies, severity: str) -> timedelta:
    # "Due soon" is the window the scheduler reminds in, so the console and Slack agree.
    try:
        policy = policies.get(Severity(severity))
    except ValueError:
        return timedelta(0)
    return timedelta(minutes=policy.remind_before_minutes if policy is not None else 0)


def sla_lines(incident: Incident, policies: Policies, now: datetime) -> list[SlaLine]:
    """The incident's targets at `now` (none when its severity has none)."""
    warning = _warning(policies, incident.severity)
    lines: list[SlaLine] = []
    for view in slas_of(incident, policies, now):
        if view.state == "met":
            lines.append(SlaLine(view, "met"))
        elif view.state == "met_late" and view.met_at is not None:
            late = (view.met_at - view.deadline).total_seconds()
            lines.append(SlaLine(view, "met_late", late_seconds=late))
        elif view.state == "breached":
            lines.append(
                SlaLine(view, "breached", late_seconds=(now - view.deadline).total_seconds())
            )
        else:
            left = view.deadline - now
            level: Level = "soon" if warning and left <= warning else "running"
            lines.append(SlaLine(view, level, left_seconds=left.total_seconds()))
    return lines


def marker(lines: list[SlaLine]) -> Marker | None:
    """What the incident list flags: a breached target, else one due soon."""
    levels = {line.level for line in lines}
    if "breached" in levels:
        return "breached"
    return "soon" if "soon" in levels else None


def markers(incidents: list[Incident], policies: Policies, now: datetime) -> dict[int, Marker]:
    """The list's flags, by incident id; incidents no longer running against a target (closed,
    merged) are not flagged."""
    if not policies:
        return {}
    found: dict[int, Marker] = {}
    for incident in incidents:
        if incident.status in ("closed", "merged"):
            continue
        flag = marker(sla_lines(incident, policies, now))
        if flag is not None:
            found[incident.id] = flag
    return found
