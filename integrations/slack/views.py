"""What Slack messages show about an incident, read from the store.

Plain data for the templates; masking happens when a template renders it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.slack.templates import Raw, link, mention, safe
from smokejumper.config import Settings
from smokejumper.store.tables import (
    AlertRow,
    EvidenceItem,
    Incident,
    IncidentTask,
    TimelineEvent,
)

_STEP_STATES = {
    "step.started": (":hourglass_flowing_sand:", "running"),
    "step.completed": (":white_check_mark:", "done"),
    "step.failed": (":x:", "failed"),
    "approval.requested": (":raising_hand:", "awaiting approval"),
    "approval.approved": (":white_check_mark:", "approved"),
    "approval.denied": (":no_entry:", "denied"),
    "approval.timed_out": (":alarm_clock:", "timed out"),
    "approval.withdrawn": (":heavy_minus_sign:", "withdrawn: incident closed"),
}
_EVENT_ICONS = {
    "step.failed": ":x:",
    "playbook.failed": ":x:",
    "playbook.aborted": ":octagonal_sign:",
    "playbook.finished": ":checkered_flag:",
    "approval.denied": ":no_entry:",
}


@dataclass
class StepView:
    name: str
    icon: str
    state: str


@dataclass
class IncidentView:
    id: int
    ref: str
    title: str
    severity: str
    status: str
    kind: str
    playbook: str | None
    workflow_id: str
    opened_at: datetime
    owasp: list[str]
    atlas: list[str]
    affected: str
    evidence: str
    console_link: Raw
    updated: str
    steps: list[StepView] = field(default_factory=list)
    next: str = ""

    @property
    def channel_name(self) -> str:
        return self.ref.lower()


def console_url(settings: Settings, ref: str) -> str:
    return f"{settings.api_url.rstrip('/')}/incidents/{ref}"


def load_incident(session: Session, incident: Incident, settings: Settings) -> IncidentView:
    ref = incident.ref or str(incident.id)
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.id)
    ).all()
    steps: dict[str, StepView] = {}
    for event in events:
        state = _STEP_STATES.get(event.kind)
        if state is not None and event.step:
            steps[event.step] = StepView(event.step, *state)
    waiting = [s.name for s in steps.values() if s.state in ("running", "awaiting approval")]
    return IncidentView(
        id=incident.id,
        ref=ref,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        kind=incident.kind,
        playbook=incident.playbook,
        workflow_id=incident.workflow_id,
        opened_at=incident.opened_at,
        owasp=list(incident.owasp or []),
        atlas=list(incident.atlas or []),
        affected=_affected(incident),
        evidence=_evidence(session, incident),
        console_link=link(
            console_url(settings, ref), "Raw prompt and response: open in the console"
        ),
        updated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        steps=list(steps.values()),
        next=", ".join(waiting),
    )


def _pairs(values: dict[str, Any]) -> list[str]:
    return [f"{name} {value}" for name, value in values.items() if value not in (None, "")]


def _affected(incident: Incident) -> str:
    return "; ".join(_pairs(incident.target or {}) + _pairs(incident.principal or {}))


def _evidence(session: Session, incident: Incident) -> str:
    """Scores and labels from the first alert, and what was captured: never the raw prompt
    or response, which stay behind the console's access control."""
    lines: list[str] = []
    alert = session.scalars(
        select(AlertRow).where(AlertRow.incident_id == incident.id).order_by(AlertRow.received_at)
    ).first()
    if alert is not None:
        evidence = (alert.normalized or {}).get("evidence") or {}
        scores = evidence.get("scores") or {}
        if scores:
            lines.append(
                "Scores: " + ", ".join(f"{name} {value}" for name, value in scores.items())
            )
        spans = evidence.get("matched_spans") or []
        labels = sorted({str(span.get("label")) for span in spans if isinstance(span, dict)})
        if labels:
            lines.append("Matched: " + ", ".join(labels))
        held = [name for name in ("prompt", "response", "documents") if evidence.get(name)]
        if held:
            lines.append("Held in the console: " + ", ".join(held))
    items = session.scalars(
        select(EvidenceItem).where(EvidenceItem.incident_id == incident.id).limit(5)
    ).all()
    for item in items:
        lines.append(f"Captured {item.name} ({item.kind}, {item.size} bytes)")
    return "\n".join(lines) or "No evidence captured yet."


def people(entries: list[str], groups: dict[str, list[str]]) -> list[str]:
    """Names behind `entries` (`group:<name>` or a name); an unknown group names nobody
    here: a message is no reason to fail, unlike an approval."""
    found: set[str] = set()
    for entry in entries:
        if entry.startswith("group:"):
            found.update(groups.get(entry.removeprefix("group:"), []))
        else:
            found.add(entry)
    return sorted(found)


def event_icon(kind: str) -> str:
    return _EVENT_ICONS.get(kind, ":small_blue_diamond:")


def mentions(settings: Settings, people: list[str]) -> Raw:
    return Raw(" ".join(mention(settings.slack.slack_id(name), name) for name in people))


_ANSWERED = {
    "retry": "Retried now by",
    "done": "Done by hand, as recorded by",
    "skip": "Skipped by",
}


def verdict(
    settings: Settings, kind: str, votes: list[tuple[str, bool, str]], choice: str | None = None
) -> tuple[str, Raw, str]:
    """Icon, "Approved by @x" and the reason, from the step's votes (actor, approve, reason);
    a hand-off's answer (`choice`) is said as such."""
    if kind == "approval.timed_out":
        return ":alarm_clock:", Raw("Timed out"), ""
    if kind == "approval.withdrawn":
        return ":heavy_minus_sign:", Raw("Withdrawn: incident closed"), ""
    approve = kind == "approval.approved"
    deciders = [actor for actor, vote, _ in votes if vote == approve]
    reasons = "; ".join(reason for _, vote, reason in votes if vote == approve and reason)
    who = mentions(settings, deciders[:1] if not approve else deciders) or Raw(safe("nobody"))
    word = _ANSWERED.get(choice or "", "Approved" if approve else "Denied").removesuffix(" by")
    return (":white_check_mark:" if approve else ":no_entry:"), Raw(f"{word} by {who}"), reasons


def votes_for(session: Session, incident_id: int, step: str) -> list[tuple[str, bool, str]]:
    rows = session.scalars(
        select(TimelineEvent)
        .where(
            TimelineEvent.incident_id == incident_id,
            TimelineEvent.kind == "approval.vote",
            TimelineEvent.step == step,
        )
        .order_by(TimelineEvent.id)
    ).all()
    votes = []
    for row in rows:
        # "<actor> approved|denied <step> via <channel>[: <reason>]"
        approve = f"{row.actor} approved " in row.message
        _, _, after = row.message.partition(" via ")
        _, _, reason = after.partition(": ")
        votes.append((row.actor, approve, reason))
    return votes


def event_time(session: Session, event_key: str) -> str:
    at = session.scalar(select(TimelineEvent.at).where(TimelineEvent.event_key == event_key))
    return (at or datetime.now(UTC)).astimezone(UTC).strftime("%H:%M")


def task_value(ref: str, task_id: int) -> Raw:
    """What a task's "Mark done" button carries back: the incident and the task."""
    return Raw(f"{ref}|task:{task_id}")


def load_task(session: Session, task_id: int, settings: Settings) -> dict[str, Any] | None:
    """A task as its message shows it, from the store (so a message posted late shows
    the task as it is by then)."""
    task = session.get(IncidentTask, task_id)
    if task is None:
        return None
    incident = session.get(Incident, task.incident_id)
    ref = (incident.ref or str(incident.id)) if incident is not None else str(task.incident_id)
    done_by = task.completed_by or ""
    return {
        "id": task.id,
        "title": task.title,
        "owner": mentions(settings, [task.owner]) if task.owner else "",
        "due": task.due_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if task.due_at else "",
        "created_by": task.created_by,
        "via": task.via,
        "state": task.state,
        "value": task_value(ref, task.id),
        "completed_by": mentions(settings, [done_by]) if done_by else "",
        "at": task.completed_at.astimezone(UTC).strftime("%H:%M") if task.completed_at else "",
        "note": task.completion_note or "",
    }
