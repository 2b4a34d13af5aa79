"""The report's content, gathered from the store: incident, timeline, actions, evidence,
approvals and clocks (the last two as the playbook recorded them on the timeline).

Every free-text value, step names and action targets included, is masked here (with the
configured patterns: `AKIA…7Q2Z`, `j…@….com`, `[REDACTED:card]`), before any template sees
it: a template cannot forget to. Digests and ids are not free text and are kept as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from smokejumper.domain.taxonomy import atlas_label, owasp_label
from smokejumper.incidents import case_work
from smokejumper.masking import mask, mask_target
from smokejumper.redaction import Redactor
from smokejumper.store.db import Store
from smokejumper.store.tables import Action, EvidenceItem, Incident, TimelineEvent

ACK_STATUSES = ("acknowledged", "contained", "resolved", "closed")
CONTAIN_STATUSES = ("contained", "resolved", "closed")
RESOLVE_STATUSES = ("resolved", "closed")


@dataclass
class TimelineRow:
    at: datetime
    actor: str
    kind: str
    step: str | None
    message: str


@dataclass
class NoteRow:
    at: datetime
    author: str
    via: str
    text: str


@dataclass
class ActionRow:
    action: str
    target: str
    provider: str
    step: str | None
    status: str
    before: str
    after: str
    verified: bool | None
    reversible: bool
    restored_at: datetime | None
    error: str | None


@dataclass
class EvidenceRow:
    name: str
    kind: str
    sha256: str
    size: int
    uri: str
    preview: str
    captured_at: datetime
    captured_by: str


@dataclass
class ApprovalRow:
    step: str
    question: str
    requested_at: datetime
    votes: list[str] = field(default_factory=list)
    outcome: str = "pending"
    decided_at: datetime | None = None


@dataclass
class ClockRow:
    name: str
    started: datetime
    deadline: str
    status: str = "running"
    detail: str = ""


@dataclass
class DataSourceRow:
    """A data source that served an injected instruction, as the playbook recorded it
    (`datasource.flagged`): how many documents it served, how many carried the
    instruction, and how many the sweep moved out of retrieval."""

    name: str
    served: int | None
    carrying: int | None
    quarantined: int | None
    index: str


@dataclass
class Report:
    ref: str
    title: str
    kind: str
    severity: str
    status: str
    playbook: str | None
    opened_at: datetime
    generated_at: datetime
    principal: dict[str, str]
    target: dict[str, str]
    owasp: list[str]
    atlas: list[str]
    alert_count: int
    durations: dict[str, str]
    timeline: list[TimelineRow]
    actions: list[ActionRow]
    evidence: list[EvidenceRow]
    approvals: list[ApprovalRow]
    clocks: list[ClockRow]
    # Containment the playbook decided on that is not done, and why (failed and waiting
    # for a responder, not confirmed, nothing to act on, skipped by a responder).
    not_done: list[str]
    follow_ups: list[str]
    data_sources: list[DataSourceRow] = field(default_factory=list)
    # Responders' notes, masked, oldest first.
    notes: list[NoteRow] = field(default_factory=list)
    commander: str | None = None
    assignees: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(json.dumps(asdict(self), default=str))
        return data


def _duration(delta: timedelta | None) -> str:
    if delta is None:
        return "not yet"
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


def _first_status(events: list[TimelineEvent], statuses: tuple[str, ...]) -> datetime | None:
    for event in events:
        if event.kind == "incident.status" and event.data.get("to") in statuses:
            return event.at
    return None


def _json(value: dict[str, Any], redactor: Redactor) -> str:
    return mask(json.dumps(value, sort_keys=True, default=str), redactor) if value else ""


def build_report(store: Store, incident_id: int, redactor: Redactor, now: datetime) -> Report:
    incident, events, actions, evidence = _load(store, incident_id)

    def text(value: str) -> str:
        return mask(value, redactor)

    def step_of(value: str | None) -> str | None:
        return mask(value, redactor) if value else value

    approvals, clocks = _approvals_and_clocks(events, text)
    return Report(
        ref=incident.ref or str(incident.id),
        title=text(incident.title),
        kind=incident.kind,
        severity=incident.severity,
        status=incident.status,
        playbook=incident.playbook,
        opened_at=incident.opened_at,
        generated_at=now,
        principal={k: text(str(v)) for k, v in (incident.principal or {}).items() if v},
        target={k: text(str(v)) for k, v in (incident.target or {}).items() if v},
        owasp=[_label(owasp_label, o) for o in incident.owasp or []],
        atlas=[_label(atlas_label, a) for a in incident.atlas or []],
        alert_count=incident.alert_count,
        durations=_durations(incident.opened_at, events),
        timeline=[
            TimelineRow(e.at, text(e.actor), e.kind, step_of(e.step), text(e.message))
            for e in events
        ],
        actions=[_action_row(a, redactor) for a in actions],
        evidence=[_evidence_row(e, redactor) for e in evidence],
        approvals=list(approvals.values()),
        clocks=list(clocks.values()),
        not_done=[f"{step_of(step)}: {text(why)}" for step, why in not_done(events).items()],
        follow_ups=_follow_ups(incident, events, actions, approvals, clocks, redactor),
        data_sources=_data_sources(events, text),
        **_case_record(store, incident, redactor),
    )


def _case_record(store: Store, incident: Incident, redactor: Redactor) -> dict[str, Any]:
    with store.session() as session:
        record = case_work.case_record_of(session, incident)
        notes = case_work.notes_for(session, incident.id, redactor)
    return {
        "notes": [NoteRow(n.created_at, n.author, n.via, n.text) for n in notes],
        "commander": record.commander,
        "assignees": record.assignees,
        "tags": record.tags,
    }


def _load(
    store: Store, incident_id: int
) -> tuple[Incident, list[TimelineEvent], list[Action], list[EvidenceItem]]:
    with store.session() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise LookupError(f"no incident {incident_id}")
        events = list(
            session.scalars(
                select(TimelineEvent)
                .where(TimelineEvent.incident_id == incident_id)
                .order_by(TimelineEvent.at, TimelineEvent.id)
            )
        )
        actions = list(
            session.scalars(
                select(Action).where(Action.incident_id == incident_id).order_by(Action.id)
            )
        )
        evidence = list(
            session.scalars(
                select(EvidenceItem)
                .where(EvidenceItem.incident_id == incident_id)
                .order_by(EvidenceItem.id)
            )
        )
        session.expunge_all()
    return incident, events, actions, evidence


def _durations(opened: datetime, events: list[TimelineEvent]) -> dict[str, str]:
    acked = _first_status(events, ACK_STATUSES)
    contained = _first_status(events, CONTAIN_STATUSES)
    resolved = _first_status(events, RESOLVE_STATUSES)
    return {
        "time to acknowledge": _duration(acked - opened if acked else None),
        "time to contain": _duration(contained - opened if contained else None),
        "time to resolve": _duration(resolved - opened if resolved else None),
    }


_DECIDED = {"approval.approved", "approval.denied", "approval.timed_out", "approval.withdrawn"}


def _approvals_and_clocks(
    events: list[TimelineEvent], text: Callable[[str], str]
) -> tuple[dict[str, ApprovalRow], dict[str, ClockRow]]:
    approvals: dict[str, ApprovalRow] = {}
    clocks: dict[str, ClockRow] = {}
    for event in events:
        if event.kind == "approval.requested" and event.step:
            question = event.message.split(": ", 1)[-1]
            approvals[event.step] = ApprovalRow(text(event.step), text(question), event.at)
        elif event.kind == "approval.vote" and event.step in approvals:
            approvals[event.step].votes.append(text(event.message))
        elif event.kind in _DECIDED:
            row = approvals.get(event.step or "")
            if row is not None:
                row.outcome = event.kind.removeprefix("approval.").replace("_", " ")
                row.decided_at = event.at
        elif event.kind == "clock.started":
            name = str(event.data.get("clock", ""))
            clocks[name] = ClockRow(name, event.at, str(event.data.get("deadline", "")))
        elif event.kind in {"clock.stopped", "clock.breached"}:
            clock = clocks.get(str(event.data.get("clock", "")))
            if clock is not None:
                clock.status = "filed" if event.kind == "clock.stopped" else "breached"
                if event.data.get("reason"):
                    clock.status = f"stopped: {event.data['reason']}"
                clock.detail = text(event.message)
    return approvals, clocks


def _follow_ups(
    incident: Incident,
    events: list[TimelineEvent],
    actions: list[Action],
    approvals: dict[str, ApprovalRow],
    clocks: dict[str, ClockRow],
    redactor: Redactor,
) -> list[str]:
    follow_ups = [
        f"approval {a.step} is still pending" for a in approvals.values() if a.outcome == "pending"
    ]
    follow_ups += [
        f"clock {c.name} runs until {c.deadline}: record the filing"
        for c in clocks.values()
        if c.status == "running"
    ]
    follow_ups += [
        f"clock {c.name} breached its deadline" for c in clocks.values() if c.status == "breached"
    ]
    # What a playbook left for a responder (a purge not automated, denied or failed).
    follow_ups += [mask(e.message, redactor) for e in events if e.kind == "follow_up"]
    for done in actions:
        what = f"{done.action} of {mask_target(done.target, redactor)}"
        if done.status == "failed":
            follow_ups.append(f"{what} failed: do it by hand")
        elif done.status == "completed" and done.verified is False:
            follow_ups.append(f"{what} is not confirmed by {done.provider}")
        elif done.status == "completed" and done.reversible:
            follow_ups.append(f"{what} is in force: lift it once resolved")
    if incident.status != "closed":
        follow_ups.append("close the incident once the follow-ups are done")
    return follow_ups


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _data_sources(events: list[TimelineEvent], text: Callable[[str], str]) -> list[DataSourceRow]:
    rows = []
    for event in events:
        data = event.data or {}
        if event.kind != "datasource.flagged" or not data.get("data_source"):
            continue
        index = str(data.get("collection") or "")
        if data.get("quarantine_collection"):
            index += f" (swept into {data['quarantine_collection']})"
        rows.append(
            DataSourceRow(
                name=text(str(data["data_source"])),
                served=_count(data.get("served")),
                carrying=_count(data.get("carrying_from_source", data.get("carrying"))),
                quarantined=_count(data.get("quarantined")),
                index=text(index) or "not swept",
            )
        )
    return rows


def _action_row(action: Action, redactor: Redactor) -> ActionRow:
    return ActionRow(
        action=action.action,
        target=mask_target(action.target, redactor),
        provider=action.provider,
        step=mask(action.step, redactor) if action.step else action.step,
        status=action.status,
        before=_json(action.before or {}, redactor),
        after=_json(action.after or {}, redactor),
        verified=action.verified,
        reversible=action.reversible,
        restored_at=action.restored_at,
        error=mask(action.error, redactor) if action.error else None,
    )


def _evidence_row(item: EvidenceItem, redactor: Redactor) -> EvidenceRow:
    return EvidenceRow(
        name=mask(item.name, redactor),
        kind=item.kind,
        sha256=item.sha256,
        size=item.size,
        uri=item.uri,
        preview=mask(item.redacted_preview or "", redactor),
        captured_at=item.captured_at,
        captured_by=item.captured_by,
    )


def not_done(events: list[TimelineEvent]) -> dict[str, str]:
    """Each step the timeline leaves not done, with why: failed (and handed to people),
    unconfirmed, impossible (nothing to act on) or skipped; a step later completed and
    verified, or done by hand, is done."""
    left: dict[str, str] = {}
    for event in events:
        step = event.step
        if step is None:
            continue
        if event.kind == "step.failed":
            left[step] = "failed: " + event.message.split(" failed: ", 1)[-1]
        elif event.kind == "approval.requested" and event.data.get("handoff"):
            handed = str(event.data["handoff"])
            cause = str(event.data.get("cause") or "")
            left[handed] = left.get(handed) or f"not done: {cause}"
            left[handed] += "; waiting for a responder (retry, done by hand or skip)"
        elif event.kind == "containment.missing":
            left[step] = event.message.split(": ", 1)[-1]
        elif event.kind == "step.unverified":
            left[step] = "done, but the provider did not confirm it"
        elif event.kind in {"step.verified", "step.done_by_hand"}:
            left.pop(step, None)
        elif event.kind == "step.completed":
            left.pop(step, None)
        elif event.kind == "step.skipped":
            left[step] = "skipped " + event.message.split(" skipped ", 1)[-1]
    return left


def _label(function: Any, value: str) -> str:
    try:
        return str(function(value))
    except ValueError:
        return value
