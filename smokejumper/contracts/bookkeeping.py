"""The engine's own writes, which every playbook makes through the SDK: the timeline, the
status and severity, the audit log, who may approve, and notifications."""

from __future__ import annotations

from smokejumper.contracts.base import STORE, Contract, Rehearsal
from smokejumper.domain.incidents import (
    AuditRecord,
    Notification,
    SeverityChange,
    StatusChange,
    TimelineEntry,
)


def _written(_: object, __: Rehearsal) -> bool:
    return True


def _rehearsed_approvers(approvers: list[str], rehearsal: Rehearsal) -> list[str]:
    # Stand-ins join every approval, so a rehearsal can meet any sensible min_approvals.
    return [*approvers, *rehearsal.approvers]


def _rehearsed_notify(notification: Notification, _: Rehearsal) -> list[str]:
    # A dry run only knows who was named.
    return list(notification.to)


RECORD_TIMELINE_EVENT = Contract(
    "record_timeline_event",
    TimelineEntry,
    bool,
    retry=STORE,
    rehearse=_written,
    description="Write one timeline entry (idempotent on its event key).",
)
SET_INCIDENT_STATUS = Contract(
    "set_incident_status",
    StatusChange,
    bool,
    retry=STORE,
    rehearse=_written,
    description="Change the incident's status, with its timeline entry.",
)
SET_INCIDENT_SEVERITY = Contract(
    "set_incident_severity",
    SeverityChange,
    bool,
    retry=STORE,
    rehearse=_written,
    description="Change the incident's severity, with its timeline entry.",
)
RECORD_AUDIT = Contract(
    "record_audit",
    AuditRecord,
    bool,
    retry=STORE,
    rehearse=_written,
    description="Append to the keyed, hash-chained audit log.",
)
RESOLVE_APPROVERS = Contract(
    "resolve_approvers",
    list[str],
    list[str],
    retry=STORE,
    rehearse=_rehearsed_approvers,
    description="People and `group:<name>` entries resolved to the people who may decide.",
)
NOTIFY = Contract(
    "notify",
    Notification,
    list[str],
    retry=STORE,
    rehearse=_rehearsed_notify,
    description="Tell responders (people or groups); returns who was notified.",
)

# What the SDK itself calls, outside any step.
ENGINE = (
    RECORD_TIMELINE_EVENT,
    SET_INCIDENT_STATUS,
    SET_INCIDENT_SEVERITY,
    RECORD_AUDIT,
    RESOLVE_APPROVERS,
    NOTIFY,
)
