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

Freshness: a check answers from a `stat` of each file it reads made after its request
arrived (on the API's port, one per check; on the controls listener, one shared by the
checks answered together, see Arrivals), so a change any process writes is seen by every
check whose request arrives after the writer's rename returned: no polling interval, no
staleness window.

The routes below are the contract in the OpenAPI schema; on the API's port and the
controls listener requests are answered ahead of FastAPI by the same view, in
smokejumper.api.controls_asgi (see smokejumper.api.controls_wiring).
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import os
import threading
import time
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


class Arrivals:
    """How many requests a listener has received so far: its protocol counts each one when
    its head is complete, before the app sees it.

    It lets checks share one `stat` of a state file: a file stat'ed when the count was N
    was stat'ed after every request numbered up to N had arrived, so while the count is
    still N, answering from that stat is answering from state at least as new as the
    request. Requests read in one pass of the event loop are answered in the next, with no
    arrival in between: one stat a file serves the whole batch. A stat costs ~10 µs of CPU
    on a sandboxed kernel, more than the rest of a check."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class _WatchedFile:
    """One state file's section, kept in memory until the file changes."""

    def __init__(self, path: Path, section: str) -> None:
        self.path = path
        self._fspath = os.fspath(path)  # stat on every check: skip Path's conversion
        self.section = section
        self.signature: tuple[int, int, int, int] | None = None
        self.records: dict[str, dict[str, Any]] = {}
        # Each denying record's reason, as fields and as JSON, made once per version of the
        # file: a record says the same until the file changes.
        self.answers: dict[str, Hit] = {}
        self._stat_at: int | None = None  # Arrivals.count when last stat'ed, if counted

    def current(self, arrived: int | None = None) -> dict[str, dict[str, Any]]:
        """The records as the file holds them now, or as of a stat made after request
        number `arrived` came in (see Arrivals); None: stat now."""
        if arrived is not None and arrived == self._stat_at:
            return self.records
        self._stat_at = arrived
        try:
            st = os.stat(self._fspath)
        except FileNotFoundError:
            self.signature, self.records, self.answers = None, {}, {}
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
        self.signature, self.records, self.answers = signature, records, {}


class FilterRule(BaseModel):
    id: str
    kind: str = Field(description="`pattern` (a regular expression) or `canary` (a literal).")
    pattern: str
    expires_at: str | None = None
    reason: str | None = None
    by: str | None = None


class FilterRules(BaseModel):
    rules: list[FilterRule]


@functools.lru_cache(maxsize=65_536)
def _expiry(value: str) -> float | None:
    """`expires_at` as POSIX time (a naive one is UTC); None when unreadable. Cached: a
    block's expiry is read on every check of its principal."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _lapsed(record: dict[str, Any], now: float) -> bool:
    value = record.get("expires_at")
    if not value:
        return False
    expiry = _expiry(str(value))
    # An unreadable expiry keeps the control on: failing open is the worse mistake.
    return expiry is not None and expiry <= now


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

    def load(self) -> None:
        """Read every state file now rather than at the first check that needs it."""
        with self._lock:
            for watched in (self.keys, self.endpoints, self.principals, self.documents):
                watched.current()
            self.rules.current()

    def active_rules(self) -> list[FilterRule]:
        with self._lock:
            records = self.rules.current()
        now = time.time()
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
        reasons = self.reasons(key_id, endpoint, principals, documents)
        return CheckResult(allowed=not reasons, reasons=[Reason(**r) for r in reasons])

    def reasons(
        self,
        key_id: str | None,
        endpoint: str | None,
        principals: list[str] | None = None,
        documents: list[str] | None = None,
        arrived: int | None = None,
    ) -> list[dict[str, str | None]]:
        """Why a request is denied, as `Reason`'s fields (none: allowed). Plain dicts: the
        check is asked on every LLM request, and building models costs it more than the
        lookups. `arrived`: the listener's Arrivals.count now (None: stat every file)."""
        return [fields for fields, _ in self.hits(key_id, endpoint, principals, documents, arrived)]

    def answer(
        self,
        key_id: str | None,
        endpoint: str | None,
        principals: list[str] | None = None,
        documents: list[str] | None = None,
        arrived: int | None = None,
    ) -> bytes:
        """The check's answer as JSON, `CheckResult`'s fields."""
        hits = self.hits(key_id, endpoint, principals, documents, arrived)
        if not hits:
            return ALLOWED_JSON
        return b'{"allowed":false,"reasons":[' + b",".join(j for _, j in hits) + b"]}"

    def hits(
        self,
        key_id: str | None,
        endpoint: str | None,
        principals: list[str] | None = None,
        documents: list[str] | None = None,
        arrived: int | None = None,
    ) -> list[Hit]:
        """`principals` are `<type>:<id>` (user, tenant, session, api_key)."""
        hits: list[Hit] = []
        principals = list(principals or [])
        if key_id is not None:
            principals.append(f"api_key:{key_id}")
        with self._lock:
            # Each file's records with the reasons made from them, of the same version.
            keys = self.keys.current(arrived) if key_id is not None else {}
            keys_answers = self.keys.answers
            endpoints = self.endpoints.current(arrived) if endpoint is not None else {}
            endpoints_answers = self.endpoints.answers
            blocked = self.principals.current(arrived) if principals else {}
            blocked_answers = self.principals.answers
            quarantined = self.documents.current(arrived) if documents else {}
            quarantined_answers = self.documents.answers
        if key_id is not None:
            record = keys.get(key_id)
            if record is not None and record.get("status") == REVOKED:
                hits.append(_hit(keys_answers, "key_revoked", key_id, record))
        if endpoint is not None:
            record = endpoints.get(endpoint)
            if record is not None and record.get("status") == ISOLATED:
                hits.append(_hit(endpoints_answers, "endpoint_isolated", endpoint, record))
        now = time.time()
        for principal in principals:
            record = blocked.get(principal)
            if record is None or record.get("status") != BLOCKED:
                continue
            if _lapsed(record, now):
                continue
            hits.append(_hit(blocked_answers, "principal_blocked", principal, record))
        for document in documents or []:
            record = quarantined.get(document)
            if record is not None and record.get("status") == QUARANTINED:
                hits.append(_hit(quarantined_answers, "document_quarantined", document, record))
        return hits


# A denial's reason: its fields, and the same as compact JSON.
Hit = tuple[dict[str, str | None], bytes]
ALLOWED_JSON = b'{"allowed":true,"reasons":[]}'


def _message(code: str, target: str, record: dict[str, Any]) -> str:
    if code == "key_revoked":
        return f"key {target} is revoked"
    if code == "endpoint_isolated":
        why = f": {record['reason']}" if record.get("reason") else ""
        by = f" by {record['by']}" if record.get("by") else ""
        return f"endpoint {target} is isolated{by}{why}"
    if code == "principal_blocked":
        until = f" until {record['expires_at']}" if record.get("expires_at") else ""
        return f"{target} is blocked{until}"
    return f"document {target} is quarantined"


def _hit(answers: dict[str, Hit], code: str, target: str, record: dict[str, Any]) -> Hit:
    hit = answers.get(target)
    if hit is None:
        since = record.get("changed_at")
        fields: dict[str, str | None] = {
            "code": code,
            "target": target,
            "message": _message(code, target, record),
            "since": None if since is None else str(since),
        }
        hit = (fields, json.dumps(fields, ensure_ascii=True, separators=(",", ":")).encode())
        answers[target] = hit
    return hit


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
