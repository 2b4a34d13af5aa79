"""`GET /api/v1/controls/check`: may this request be served? Asked by an LLM application (or
its gateway) before every request, so it answers from memory.

The embedded control plane's state lives in the keys and endpoints JSON files, written by
the worker (containment activities), the CLI or another tool. Each check stats both files
and re-reads one only when its identity, size or mtime changed: writers replace the file
by rename, so a new version always comes with a new inode. No database query is made.
The core reads the files itself rather than importing `integrations`: the format is two
flat JSON objects and the core must not depend on integrations.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from smokejumper.api.state import AppState, app_state
from smokejumper.intake.auth import bearer

log = logging.getLogger("smokejumper.api.controls")

router = APIRouter(prefix="/api/v1/controls", tags=["controls"])

REVOKED = "inactive"
ISOLATED = "isolated"


class Reason(BaseModel):
    code: str = Field(description="`key_revoked` or `endpoint_isolated`.")
    target: str
    message: str
    since: str | None = None


class CheckResult(BaseModel):
    allowed: bool
    reasons: list[Reason] = Field(default_factory=list)


class _WatchedFile:
    """One state file's section, kept in memory until the file changes."""

    def __init__(self, path: Path, section: str) -> None:
        self.path = path
        self.section = section
        self.signature: tuple[int, int, int, int] | None = None
        self.records: dict[str, dict[str, Any]] = {}

    def current(self) -> dict[str, dict[str, Any]]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.signature, self.records = None, {}
            return self.records
        signature = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)
        if signature != self.signature:
            self._load(signature)
        return self.records

    def _load(self, signature: tuple[int, int, int, int]) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            section = data.get(self.section, {}) if isinstance(data, dict) else {}
            records = {str(k): v for k, v in section.items() if isinstance(v, dict)}
        except (OSError, ValueError, AttributeError) as exc:
            # Keep the last good state (writers rename whole files, so this is a file broken
            # by hand) and try again on the next check rather than opening everything up.
            log.error("controls: cannot read %s: %s", self.path, exc)
            return
        self.signature, self.records = signature, records


class ControlPlaneView:
    def __init__(self, keys_file: Path, endpoints_file: Path) -> None:
        self.keys = _WatchedFile(keys_file, "keys")
        self.endpoints = _WatchedFile(endpoints_file, "endpoints")
        # The route runs on the event loop, but tests and embedders may share one view
        # across threads; a reload must not interleave with another.
        self._lock = threading.Lock()

    def check(self, key_id: str | None, endpoint: str | None) -> CheckResult:
        reasons: list[Reason] = []
        with self._lock:
            keys = self.keys.current() if key_id is not None else {}
            endpoints = self.endpoints.current() if endpoint is not None else {}
        if key_id is not None:
            record = keys.get(key_id)
            if record is not None and record.get("status") == REVOKED:
                reasons.append(
                    Reason(
                        code="key_revoked",
                        target=key_id,
                        message=f"key {key_id} is revoked",
                        since=record.get("changed_at"),
                    )
                )
        if endpoint is not None:
            record = endpoints.get(endpoint)
            if record is not None and record.get("status") == ISOLATED:
                why = f": {record['reason']}" if record.get("reason") else ""
                by = f" by {record['by']}" if record.get("by") else ""
                reasons.append(
                    Reason(
                        code="endpoint_isolated",
                        target=endpoint,
                        message=f"endpoint {endpoint} is isolated{by}{why}",
                        since=record.get("changed_at"),
                    )
                )
        return CheckResult(allowed=not reasons, reasons=reasons)


def control_plane(
    request: Request, state: Annotated[AppState, Depends(app_state)]
) -> ControlPlaneView:
    view: ControlPlaneView | None = getattr(request.app.state, "controls", None)
    if view is None:
        view = ControlPlaneView(state.settings.local_keys_file, state.settings.local_endpoints_file)
        request.app.state.controls = view
    return view


def require_controls(request: Request, state: Annotated[AppState, Depends(app_state)]) -> None:
    token = bearer(request.headers)
    if token is not None:
        accepted = [state.operator_token]
        if state.settings.api.controls_token is not None:
            accepted.append(state.settings.api.controls_token.get_secret_value())
        # Compare with every accepted token so the timing does not tell which one matched.
        matches = [hmac.compare_digest(token.encode(), t.encode()) for t in accepted]
        if any(matches):
            return
    raise HTTPException(
        status_code=401,
        detail="controls or operator bearer token required",
        headers={"WWW-Authenticate": "Bearer"},
    )


@router.get(
    "/check",
    dependencies=[Depends(require_controls)],
    # Not only FastAPI's parameter errors: also "give key_id, endpoint or both".
    responses={422: {"description": "Neither key_id nor endpoint, or a malformed parameter"}},
)
async def check(
    view: Annotated[ControlPlaneView, Depends(control_plane)],
    key_id: Annotated[str | None, Query(max_length=200)] = None,
    endpoint: Annotated[str | None, Query(max_length=200)] = None,
    principal: Annotated[str | None, Query(max_length=200)] = None,
) -> CheckResult:
    """Whether to serve a request made with `key_id` to `endpoint`, and if not, why.

    `principal` is accepted for the gateway's convenience and the access log; the embedded
    control plane has no per-principal blocks yet, so it never denies on its own.
    """
    del principal
    if key_id is None and endpoint is None:
        raise HTTPException(status_code=422, detail="give key_id, endpoint or both")
    return view.check(key_id, endpoint)
