"""`GET /api/v1/controls/check`: may this request be served? Asked by an LLM application (or
its gateway) before every request, so it answers from memory.

The embedded control plane's state lives in JSON files beside each other — keys,
endpoints, blocked principals, quarantined documents and input-filter rules — written by
the worker (containment activities), the CLI or another tool. Each check stats the files
it needs and re-reads one only when its identity, size or mtime changed: writers replace
the file by rename, so a new version always comes with a new inode. No database query is
made. The core reads the files itself rather than importing `integrations`: the format is
flat JSON objects and the core must not depend on integrations.

Blocks and filter rules may carry `expires_at`; a lapsed one no longer counts, without
any process having to remove it.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from smokejumper.api.state import app_state
from smokejumper.domain.containment import KeyStatus
from smokejumper.intake.auth import bearer

log = logging.getLogger("smokejumper.api.controls")

router = APIRouter(prefix="/api/v1/controls", tags=["controls"])

REVOKED = KeyStatus.INACTIVE
ISOLATED = "isolated"
BLOCKED = "blocked"
QUARANTINED = "quarantined"
ACTIVE = "active"  # a filter rule in force


class Reason(BaseModel):
    code: str = Field(
        description="`key_revoked`, `endpoint_isolated`, `principal_blocked` or "
        "`document_quarantined`."
    )
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


class FilterRule(BaseModel):
    id: str
    kind: str = Field(description="`pattern` (a regular expression) or `canary` (a literal).")
    pattern: str
    expires_at: str | None = None
    reason: str | None = None
    by: str | None = None


class FilterRules(BaseModel):
    rules: list[FilterRule]


def _lapsed(record: dict[str, Any], now: datetime) -> bool:
    value = record.get("expires_at")
    if not value:
        return False
    try:
        return datetime.fromisoformat(str(value)) <= now
    except ValueError:
        # An unreadable expiry keeps the control on: failing open is the worse mistake.
        return False


class ControlPlaneView:
    def __init__(
        self,
        keys_file: Path,
        endpoints_file: Path,
        principals_file: Path | None = None,
        documents_file: Path | None = None,
        rules_file: Path | None = None,
    ) -> None:
        self.keys = _WatchedFile(keys_file, "keys")
        self.endpoints = _WatchedFile(endpoints_file, "endpoints")
        here = keys_file.parent
        self.principals = _WatchedFile(principals_file or here / "principals.json", "principals")
        self.documents = _WatchedFile(documents_file or here / "documents.json", "documents")
        self.rules = _WatchedFile(rules_file or here / "filter_rules.json", "rules")
        # The route runs on the event loop, but tests and embedders may share one view
        # across threads; a reload must not interleave with another.
        self._lock = threading.Lock()

    def active_rules(self) -> list[FilterRule]:
        with self._lock:
            records = self.rules.current()
        now = datetime.now(UTC)
        return [
            FilterRule(
                id=rule_id,
                kind=str(record.get("kind", "pattern")),
                pattern=str(record["pattern"]),
                expires_at=record.get("expires_at"),
                reason=record.get("reason"),
                by=record.get("by"),
            )
            for rule_id, record in sorted(records.items())
            if record.get("status") == ACTIVE and record.get("pattern") and not _lapsed(record, now)
        ]

    def check(
        self,
        key_id: str | None,
        endpoint: str | None,
        principals: list[str] | None = None,
        documents: list[str] | None = None,
    ) -> CheckResult:
        """`principals` are `<type>:<id>` (user, tenant, session, api_key)."""
        reasons: list[Reason] = []
        principals = list(principals or [])
        if key_id is not None:
            principals.append(f"api_key:{key_id}")
        with self._lock:
            keys = self.keys.current() if key_id is not None else {}
            endpoints = self.endpoints.current() if endpoint is not None else {}
            blocked = self.principals.current() if principals else {}
            quarantined = self.documents.current() if documents else {}
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
        now = datetime.now(UTC) if blocked else None
        for principal in principals:
            record = blocked.get(principal)
            if record is None or record.get("status") != BLOCKED:
                continue
            assert now is not None
            if _lapsed(record, now):
                continue
            until = f" until {record['expires_at']}" if record.get("expires_at") else ""
            reasons.append(
                Reason(
                    code="principal_blocked",
                    target=principal,
                    message=f"{principal} is blocked{until}",
                    since=record.get("changed_at"),
                )
            )
        for document in documents or []:
            record = quarantined.get(document)
            if record is not None and record.get("status") == QUARANTINED:
                reasons.append(
                    Reason(
                        code="document_quarantined",
                        target=document,
                        message=f"document {document} is quarantined",
                        since=record.get("changed_at"),
                    )
                )
        return CheckResult(allowed=not reasons, reasons=reasons)


# The check is asked on every LLM request: its dependencies are async and read the app
# state directly, because FastAPI runs a plain `def` dependency on a worker thread, and
# those hops cost the check two thirds of its time.
async def control_plane(request: Request) -> ControlPlaneView:
    view: ControlPlaneView | None = getattr(request.app.state, "controls", None)
    if view is None:
        settings = app_state(request).settings
        view = ControlPlaneView(
            settings.local_keys_file,
            settings.local_endpoints_file,
            settings.local_principals_file,
            settings.local_documents_file,
            settings.local_filter_rules_file,
        )
        request.app.state.controls = view
    return view


async def require_controls(request: Request) -> None:
    state = app_state(request)
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
    principal: Annotated[
        str | None, Query(max_length=200, description="The end user (same as `user`).")
    ] = None,
    user: Annotated[str | None, Query(max_length=200)] = None,
    tenant: Annotated[str | None, Query(max_length=200)] = None,
    session_id: Annotated[str | None, Query(max_length=200)] = None,
    document: Annotated[
        list[str] | None,
        Query(
            max_length=100,
            description="Retrieved document ids (repeat the parameter); a retriever leaves "
            "out those the answer names as quarantined.",
        ),
    ] = None,
) -> CheckResult:
    """Whether to serve a request made with `key_id` to `endpoint` for this user, tenant and
    session, and whether the retrieved `document`s may be used; if not, why."""
    principals = [
        f"{kind}:{value}"
        for kind, value in (
            ("user", user),
            ("user", principal if principal != user else None),
            ("tenant", tenant),
            ("session", session_id),
        )
        if value is not None
    ]
    if key_id is None and endpoint is None and not principals and not document:
        raise HTTPException(
            status_code=422,
            detail="give at least one of key_id, endpoint, user (or principal), tenant, "
            "session_id, document",
        )
    if document and any(len(d) > 300 or not d for d in document):
        raise HTTPException(status_code=422, detail="document: each id must be 1-300 characters")
    return view.check(key_id, endpoint, principals, document)


@router.get("/filter-rules", dependencies=[Depends(require_controls)])
async def filter_rules(view: Annotated[ControlPlaneView, Depends(control_plane)]) -> FilterRules:
    """The input-filter rules in force now (expired and removed ones left out), for the
    gateway to apply to prompts: refuse a prompt a `pattern` rule's regular expression
    matches or that contains a `canary` rule's literal string. Poll it; it reads no
    database."""
    return FilterRules(rules=view.active_rules())
