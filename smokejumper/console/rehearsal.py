"""The playbooks page's dry-run form: the same rehearsal as `smokejumper playbooks dry-run`,
on a private time-skipping test server, every activity recorded and none run."""

from __future__ import annotations

import asyncio
import gc
import importlib

from pydantic import ValidationError

from smokejumper.config import Settings
from smokejumper.domain.alerts import Alert
from smokejumper.sdk.dryrun import DryRun, DryRunError, DryRunReport, Policy
from smokejumper.sdk.registry import discover
from smokejumper.temporal.binaries import BinaryNotFound


class RehearsalError(ValueError):
    """The alert or the playbook is wrong, or the rehearsal could not run; says which."""


def parse_alert(body: str) -> Alert:
    try:
        return Alert.model_validate_json(body)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(root)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise RehearsalError(f"not a valid alert: {details}") from None


def rehearse(settings: Settings, name: str, alert: Alert, policy: Policy) -> DryRunReport:
    """Blocking: run it in a thread. Its own event loop and Temporal runtime keep the
    rehearsal apart from the API's."""
    playbooks = discover(settings)
    chosen = playbooks.get(name)
    if chosen is None:
        raise RehearsalError(f"no playbook named {name!r}")
    # The worker's sandbox and activity names live in `workers/`, which depends on the core.
    worker = importlib.import_module("workers.worker")
    source = settings.sources.get(alert.source)
    run = DryRun(
        playbook=chosen,
        alert=alert,
        policy=policy,
        runner=worker.sandboxed_runner(),
        playbooks=list(playbooks.values()),
        engine_activities=worker.activity_names(settings),
        fingerprint_fields=source.fingerprint if source is not None else None,
    )
    try:
        return asyncio.run(run.run())
    except (BinaryNotFound, DryRunError) as exc:
        raise RehearsalError(str(exc)) from None
    finally:
        del run
        gc.collect()
