"""Incident lifecycle and the messages intake and workflows exchange."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Message names on every incident workflow, which intake and the API send.
SIGNAL_ALERT = "alert"
# Duplicates of a running incident, several at once (see intake.batching.Coalescer).
SIGNAL_ALERTS = "alerts"
UPDATE_CLOSE = "close"
QUERY_STATE = "state"
UPDATE_DECIDE = "decide"
SIGNAL_DECIDE = "decide-signal"
UPDATE_STOP_CLOCK = "stop-clock"
SIGNAL_STOP_CLOCK = "stop-clock-signal"
UPDATE_ABORT = "abort"
UPDATE_RESTORE = "restore"
# From a child playbook to its parent: an approval it asked for, again at every change
# (votes, escalation, decision, timeout), so responders can answer it at the parent.
SIGNAL_CHILD_APPROVAL = "child-approval"
# The approval a closer's request to lift the containment waits for (see CloseRequest).
LIFT_STEP = "lift-containment"


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    # Verified contained: every containment action the playbook decided on completed and
    # its provider confirms it (or a responder recorded doing it by hand, or skipped it).
    CONTAINED = "contained"
    # The playbook reached the point of containment with something missing: a step that
    # failed and waits for a responder, one not yet verified, or one nothing could act on.
    PARTLY_CONTAINED = "partly_contained"
    RESOLVED = "resolved"
    CLOSED = "closed"


class IncidentStart(BaseModel):
    """The workflow's start argument: the incident row it drives."""

    model_config = ConfigDict(frozen=True)

    incident_id: int
    ref: str
    fingerprint: str
    kind: str
    severity: str
    title: str
    playbook: str
    opened_at: datetime
    # True when a long-running playbook continued as new to keep its history short: it
    # resumes waiting instead of running its steps again.
    resumed: bool = False
    # A resumed run of a playbook that answers later alerts: the alerts still waiting for
    # an answer, and what the playbook remembered of what it dealt with (see Lifecycle).
    carried: dict[str, Any] | None = None
    # True for a dry run (`smokejumper playbooks dry-run`): its plan is read from the order
    # of the run's writes, so each is written before the run goes on.
    rehearsal: bool = False


class AlertAttached(BaseModel):
    """Signalled for every alert routed to the incident, the first one included."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    severity: str
    title: str
    deduplicated: bool
    # Set when this alert opened (or re-opened) an incident: if it reaches a run that is
    # just closing the previous incident of the fingerprint, that run continues as new
    # with this start rather than dropping the alert.
    starts_incident: IncidentStart | None = None


class AlertsAttached(BaseModel):
    """Duplicates of a running incident that arrived close together, in one signal."""

    model_config = ConfigDict(frozen=True)

    alerts: list[AlertAttached] = Field(min_length=1)


class CloseRequest(BaseModel):
    actor: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=2000)
    # Undo the containment too (a false positive): asked of someone else, as a restore is.
    lift_containment: bool = False


class AbortRequest(BaseModel):
    """Stop the playbook now and undo the steps it completed."""

    actor: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=2000)


class TimelineEntry(BaseModel):
    """What an activity records on the incident timeline; `event_key` makes it idempotent."""

    incident_id: int
    kind: str
    message: str
    actor: str
    step: str | None = None
    data: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    event_key: str
    # When it happened, where that is not when it is written (a vote, counted before the
    # step it releases starts, is written after): the timeline is ordered by this time.
    at: datetime | None = None


class Notification(BaseModel):
    """A message for responders about an incident; `to` holds people or `group:<name>`."""

    incident_id: int
    ref: str
    message: str = Field(min_length=1, max_length=4000)
    to: list[str] = Field(default_factory=list)
    sender: str
    event_key: str


class AuditRecord(BaseModel):
    """One audit-log row, written idempotently on `entry_key`."""

    actor: str
    action: str
    subject: str
    data: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    entry_key: str


class StatusChange(BaseModel):
    incident_id: int
    status: IncidentStatus
    actor: str
    reason: str = ""
    event_key: str


class SeverityChange(BaseModel):
    incident_id: int
    severity: str
    actor: str
    reason: str = ""
    event_key: str


class RestoreRequest(BaseModel):
    """Undo a finished playbook's reversible steps, once someone else approves."""

    actor: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=2000)


class IncidentState(BaseModel):
    """What the `state` query answers."""

    incident_id: int
    ref: str
    status: IncidentStatus
    playbook: str
    alerts_seen: int
    current_step: str | None = None
    pending_approvals: list[str] = Field(default_factory=list)
    steps_done: list[str] = Field(default_factory=list)
    clocks: list[ClockView] = Field(default_factory=list)
    # Completed steps whose effect holds (a revoked key, a block, an isolated endpoint)
    # and that declared an undo; `lifting` those of them being undone, or waiting for the
    # approval to be undone, at the closer's request.
    in_force: list[str] = Field(default_factory=list)
    lifting: list[str] = Field(default_factory=list)
    # Why a lift asked for at close could not be asked (nobody else may approve it).
    lift_refused: str | None = None
    # Containment not (yet) done, by step: failed and handed to people, not verified, or
    # nothing to act on; and steps people chose to skip, with their reason.
    missing: dict[str, str] = Field(default_factory=dict)
    skipped: dict[str, str] = Field(default_factory=dict)


class ClockView(BaseModel):
    """A regulatory clock as the state query shows it."""

    name: str
    kind: str
    basis: str
    started_at: datetime
    deadline: datetime
    stopped_by: str | None = None
    filed_at: datetime | None = None
    reference: str = ""
    breached: bool = False
    reminders_sent: int = 0


def close_confirmation(closed: IncidentState) -> str:
    """What a closer is told: the incident closed, and what stays in force or is lifted."""
    said = f"{closed.ref} closed; its playbook has stopped."
    lifting = [step for step in closed.in_force if step in closed.lifting]
    staying = [step for step in closed.in_force if step not in closed.lifting]
    if staying:
        said += f" Stays in force: {', '.join(staying)}."
    elif not lifting:
        said += " Nothing it did stays in force."
    if closed.lift_refused:
        said += f" Not lifted: {closed.lift_refused}."
    if lifting:
        said += f" To be lifted once someone else approves step {LIFT_STEP}: {', '.join(lifting)}."
    return said
