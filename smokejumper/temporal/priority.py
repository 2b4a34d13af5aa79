"""Task priority by severity: under a backlog, a critical incident's tasks go first.

Temporal serves a task queue's backlog by priority key, lower first (1 to 5; a task without
one counts as 3). An incident's run is started with its severity's key; its activities and
child playbooks inherit it, and a playbook that escalates passes the new key on to the
activities it schedules from then on.
"""

from __future__ import annotations

from temporalio.common import Priority

from smokejumper.domain.alerts import Severity

_KEYS = {
    Severity.CRITICAL: 1,
    Severity.HIGH: 2,
    Severity.MEDIUM: 3,
    Severity.LOW: 4,
    Severity.INFO: 5,
}


def task_priority(severity: Severity | str) -> Priority:
    return Priority(priority_key=_KEYS[Severity(severity)])
