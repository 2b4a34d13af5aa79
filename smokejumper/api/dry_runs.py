"""`POST /api/v1/playbooks/{name}/dry-run`: the rehearsal `smokejumper playbooks dry-run`
and the console's playbooks page run, for API clients (the MCP server's `dry_run_playbook`).

It runs in the API process, on a private time-skipping test server, with the playbooks
this API's configuration loads: every activity is recorded, none runs, nothing is written.
It costs a test server's start and some seconds of CPU, so it takes the responder role, as
the console's form does. Key ids and personal data in the plan are masked, as in every
view of a real incident.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel

from smokejumper.api.auth import ResponderAccess
from smokejumper.api.state import AppState, app_state
from smokejumper.config import ConfigError, Settings
from smokejumper.domain.alerts import Alert
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.masking import mask_data
from smokejumper.redaction import Redactor
from smokejumper.sdk import dryrun
from smokejumper.sdk.dryrun import DryRunError, DryRunReport
from smokejumper.sdk.registry import discover

router = APIRouter(prefix="/api/v1", tags=["playbooks"])


class DryRunBody(BaseModel):
    alert: Alert
    # Approvals are answered by policy: there is nobody to ask.
    approve: Literal["all", "none"] = "all"


class _Unknown(LookupError):
    pass


def _rehearse(settings: Settings, name: str, body: DryRunBody) -> DryRunReport:
    playbooks = discover(settings)
    chosen = playbooks.get(name)
    if chosen is None:
        raise _Unknown(f"no playbook named {name!r} (known: {', '.join(sorted(playbooks))})")
    return dryrun.rehearse(settings, playbooks, chosen, body.alert, body.approve)


def _masked(report: DryRunReport, redactor: Redactor) -> DryRunReport:
    # The plan carries what the playbook would act on (key ids, users): masked as in every
    # view of a real incident, even though the caller sent the alert.
    return DryRunReport.model_validate(mask_data(report.model_dump(mode="json"), redactor))


@router.post(
    "/playbooks/{name}/dry-run",
    response_model=DryRunReport,
    responses={
        404: {"description": "No such playbook"},
        409: {"description": "The rehearsal could not run, with the reason"},
    },
)
async def dry_run_playbook(
    name: Annotated[str, Path(max_length=100)],
    body: DryRunBody,
    state: Annotated[AppState, Depends(app_state)],
    _caller: ResponderAccess,
) -> DryRunReport:
    """Rehearse playbook `name` against `alert` (the generic format) and return its plan:
    steps, approvals (answered `approve`: all or none), activity calls and timeline."""
    try:
        # Blocking, on its own event loop and Temporal runtime: in a thread.
        report = await asyncio.to_thread(_rehearse, state.settings, name, body)
    except _Unknown as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except (DryRunError, ConfigError) as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    redactor = await asyncio.to_thread(redactor_for, state.store, state.settings)
    return _masked(report, redactor)
