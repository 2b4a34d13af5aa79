"""The playbooks page's dry-run form: the same rehearsal as `smokejumper playbooks dry-run`,
on a private time-skipping test server, every activity recorded and none run."""

from __future__ import annotations

from smokejumper.config import Settings
from smokejumper.domain.alerts import Alert
from smokejumper.sdk import dryrun
from smokejumper.sdk.dryrun import DryRunError, DryRunReport, InvalidAlert, Policy
from smokejumper.sdk.registry import discover


class RehearsalError(ValueError):
    """The alert or the playbook is wrong, or the rehearsal could not run; says which."""


def rehearsed_alert(body: str) -> Alert:
    try:
        return dryrun.alert_from_json(body)
    except InvalidAlert as exc:
        raise RehearsalError(f"not a valid alert: {exc}") from None


def rehearse(settings: Settings, name: str, alert: Alert, policy: Policy) -> DryRunReport:
    """Blocking: run it in a thread. Its own event loop and Temporal runtime keep the
    rehearsal apart from the API's."""
    playbooks = discover(settings)
    chosen = playbooks.get(name)
    if chosen is None:
        raise RehearsalError(f"no playbook named {name!r}")
    try:
        return dryrun.rehearse(settings, playbooks, chosen, alert, policy)
    except DryRunError as exc:
        raise RehearsalError(str(exc)) from None
