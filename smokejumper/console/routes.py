"""The console's pages: incidents, one incident (live), approvals, playbooks, inventory,
dead letters, the audit log; and signing in and out."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from math import ceil
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from smokejumper.api import evidence
from smokejumper.api.dead_letters import ReplayBody, replay_dead_letter
from smokejumper.api.incident_actions import CloseBody, close_incident, decide
from smokejumper.api.incidents import attach_live_state
from smokejumper.console import casework, queries, rehearsal, single_sign_on, sla_panel
from smokejumper.console.context import (
    HERE,
    Page,
    Visit,
    digest,
    safe_next,
    set_session_cookie,
)
from smokejumper.console.context import (
    Form as CheckedForm,
)
from smokejumper.console.diffs import field_diff
from smokejumper.domain.alerts import AlertKind, Severity
from smokejumper.domain.incidents import IncidentStatus, close_confirmation
from smokejumper.domain.text import StorableText
from smokejumper.incidents.service import find_incident, incident_detail
from smokejumper.inventory.blast_radius import BlastRadius, TargetError, blast_radius
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.sdk.approvals import Choice, DecisionRequest
from smokejumper.sdk.dryrun import Policy, render
from smokejumper.sdk.registry import discover
from smokejumper.security import session_revocation, sign_in_limits
from smokejumper.security.users import Role, authenticate
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident, utcnow

log = logging.getLogger("smokejumper.console")

router = APIRouter(include_in_schema=False)

IncidentRef = Annotated[str, Path(max_length=120)]
# As the API's pages: beyond this no page holds anything, and the database's integers end.
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]
Text = Annotated[StorableText, Form(max_length=2000)]


# --- signing in and out ----------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_form(page: Page, next: str | None = None) -> Response:
    if page.principal is not None:
        return page.redirect(safe_next(next))
    return page.render("login.html", next=safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(
    page: CheckedForm,
    username: Annotated[StorableText, Form(max_length=200)],
    password: Annotated[StorableText, Form(max_length=1000)],
    next: Annotated[StorableText, Form(max_length=2000)] = "/",
) -> Response:
    typed = username.strip()
    address = page.request.client.host if page.request.client else "unknown"
    account = await asyncio.to_thread(_label, page, typed)
    wait = await asyncio.to_thread(_throttled, page, account, address)
    if wait is not None:
        log.warning("console sign-in throttled for %s from %s", account, address)
        minutes = max(1, ceil(wait / 60))
        response = page.render(
            "login.html",
            status=429,
            next=safe_next(next),
            error=f"Too many failed sign-ins. Try again in {minutes} min.",
        )
        response.headers["retry-after"] = str(wait)
        return response

    def check() -> str | None:
        with page.state.store.session() as session:
            user = authenticate(session, typed, password)
            return user.name if user is not None else None

    name = await asyncio.to_thread(check)
    if name is None:
        log.warning("console sign-in refused for %s from %s", account, address)
        await asyncio.to_thread(page.audit, sign_in_limits.FAILED, account, {"address": address})
        return page.render(
            "login.html", status=401, next=safe_next(next), error="Wrong user name or password."
        )
    # A new session id at sign-in: a cookie planted before it is worth nothing after.
    page.session = page.context.codec.new(user=name)
    page.fresh = True
    await asyncio.to_thread(page.audit, sign_in_limits.SIGNED_IN, name, {}, name)
    return page.redirect(safe_next(next))


def _label(page: Visit, typed: str) -> str:
    with page.state.store.session() as session:
        return sign_in_limits.account_label(session, typed)


def _throttled(page: Visit, account: str, address: str) -> int | None:
    """Seconds until `account` may try again from `address` (the lockout is audited once),
    or None; checked before the password, so a locked-out guesser learns nothing."""
    limit = page.context.sign_in_limit
    now = datetime.now(UTC)
    with page.state.store.session() as session:
        wait = limit.retry_after(session, account, address, now)
        if wait is None:
            return None
        told = limit.already_told(session, account, address, now)
    seconds = ceil(wait.total_seconds())
    if not told:
        page.audit(sign_in_limits.THROTTLED, account, {"address": address, "retry_after": seconds})
    return seconds


@router.post("/logout")
async def logout(page: CheckedForm) -> Response:
    if page.session.user is not None:
        # The old cookie is still validly signed: only the server can make it worthless.
        await asyncio.to_thread(_revoke, page)
    if page.principal is not None:
        await asyncio.to_thread(page.audit, "console.sign_out", page.principal.name, {})
    # A single sign-on session ends at the provider too, when it offers that.
    ended = page.session.role is not None and page.principal is not None
    response = RedirectResponse(
        await single_sign_on.after_sign_out(page) if ended else "/login", status_code=303
    )
    set_session_cookie(response, page.context, page.context.codec.new())
    return response


def _revoke(page: Visit) -> None:
    with page.state.store.transaction() as session:
        session_revocation.revoke(session, page.session.sid, page.context.codec.max_age)


# --- the site's icon ------------------------------------------------------------------

_FAVICON = (HERE / "static" / "favicon.ico").read_bytes()


@router.get("/favicon.ico")
async def favicon() -> Response:
    """Browsers ask for it on every site; the console's flame, cached for a day."""
    return Response(
        _FAVICON,
        media_type="image/x-icon",
        headers={"cache-control": "public, max-age=86400", "x-content-type-options": "nosniff"},
    )


# --- incidents --------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def incidents(
    page: Page,
    status: Annotated[str | None, Query(max_length=20)] = None,
    severity: Annotated[str | None, Query(max_length=20)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    playbook: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: Annotated[str, Query(max_length=20)] = "newest",
    offset: Offset = 0,
) -> Response:
    page.require(Role.VIEWER, "reading incidents")
    chosen = queries.IncidentFilter(
        status=status or None,
        severity=severity or None,
        kind=kind or None,
        playbook=playbook or None,
        q=q or None,
        sort=sort if sort in queries.SORTS else "newest",
    )

    def read() -> tuple[queries.IncidentList, dict[str, int], dict[int, sla_panel.Marker]]:
        with page.state.store.session() as session:
            listing = queries.incident_list(session, chosen, offset)
            flags = sla_panel.markers(listing.rows, page.state.settings.slas, utcnow())
            return listing, queries.status_counts(session), flags

    listing, counts, sla_flags = await asyncio.to_thread(read)
    return page.render(
        "incidents.html",
        listing=listing,
        counts=counts,
        sla_flags=sla_flags,
        chosen=chosen,
        offset=offset,
        page_size=queries.PAGE,
        statuses=[s.value for s in IncidentStatus],
        severities=[s.value for s in Severity],
        kinds=sorted({k.value for k in AlertKind} | set(listing.kinds)),
        sorts=list(queries.SORTS),
    )


async def _incident_view(page: Visit, ref: str) -> dict[str, Any]:
    state = page.state
    settings = state.settings

    def read() -> dict[str, Any] | None:
        with state.store.session() as session:
            incident = find_incident(session, ref)
            if incident is None:
                return None
            redactor = redactor_for(state.store, settings)
            return {
                "incident": incident_detail(
                    session,
                    incident,
                    settings.temporal.ui_url,
                    settings.temporal.namespace,
                    redactor,
                ),
                "redactor": redactor,
                "requests": queries.approval_requests(session, incident.id),
                "actions": [
                    (action, field_diff(action.before, action.after, redactor))
                    for action in queries.actions_of(session, incident.id)
                ],
                "evidence": evidence.evidence_of(session, incident),
                "case": casework.case_of(session, state.store, incident, redactor),
                "slas": sla_panel.sla_lines(incident, settings.slas, utcnow()),
                "targets": _targets(incident),
            }

    found = await asyncio.to_thread(read)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no incident {ref!r}")
    await attach_live_state(state, found["incident"], found.pop("redactor"))
    found["radius"] = await asyncio.to_thread(_radius, state.store, found.pop("targets"))
    return found


def _targets(incident: Incident) -> list[str]:
    """Inventory references an incident names, most specific first."""
    target, principal = incident.target or {}, incident.principal or {}
    refs: list[str] = []
    if target.get("endpoint"):
        refs.append(f"endpoint:{target['endpoint']}")
    if target.get("model") and target.get("model_version"):
        refs.append(f"model:{target['model']}@{target['model_version']}")
    if target.get("model"):
        refs.append(f"model:{target['model']}")
    if principal.get("api_key_id"):
        refs.append(f"key:{principal['api_key_id']}")
    return refs


def _radius(store: Store, refs: list[str]) -> BlastRadius | None:
    for ref in refs:
        try:
            return blast_radius(store, ref)
        except TargetError:
            continue
    return None


@router.get("/incidents/{ref}", response_class=HTMLResponse)
async def incident_page(page: Page, ref: IncidentRef) -> Response:
    page.require(Role.VIEWER, "reading incidents")
    return page.render("incident.html", **await _incident_view(page, ref))


@router.get("/incidents/{ref}/live", response_class=HTMLResponse)
async def incident_live(page: Page, ref: IncidentRef) -> Response:
    """Every panel of the incident page, for the page's refresh. Its ETag is a digest of
    the panels: a poll that finds nothing new is answered 304, without a body."""
    page.require(Role.VIEWER, "reading incidents")
    response = page.render("_live.html", **await _incident_view(page, ref))
    tag = f'"{digest(bytes(response.body))}"'
    if tag in {t.strip() for t in page.request.headers.get("if-none-match", "").split(",")}:
        unchanged = Response(status_code=304)
        for name in ("cache-control", "content-security-policy", "x-content-type-options"):
            unchanged.headers[name] = response.headers[name]
        unchanged.headers["etag"] = tag
        page.keep(unchanged)
        return unchanged
    response.headers["etag"] = tag
    return response


@router.post("/incidents/{ref}/approvals/{step}")
async def decide_step(
    page: CheckedForm,
    ref: IncidentRef,
    step: Annotated[str, Path(max_length=100)],
    decision: Annotated[str, Form(pattern="^(approve|deny|retry|done|skip)$")],
    reason: Text = "",
) -> Response:
    who = page.require(Role.RESPONDER, "deciding approvals")
    choice = None if decision in ("approve", "deny") else Choice(decision)
    request = DecisionRequest(
        step=step,
        approve=decision == "approve" or choice in (Choice.RETRY, Choice.DONE),
        choice=choice,
        actor=who.name,
        reason=reason,
        via="console",
    )
    try:
        receipt = await decide(page.state, ref, request)
    except HTTPException as exc:
        return page.redirect(f"/incidents/{ref}", flash=f"Refused: {exc.detail}")
    if receipt.decision is not None:
        message = f"Step {step} {receipt.decision.outcome}."
    else:
        message = f"Your vote on {step} is in; {receipt.approvals_missing} more approval(s) needed."
    return page.redirect(f"/incidents/{ref}", flash=message)


@router.post("/incidents/{ref}/close")
async def close(
    page: CheckedForm,
    ref: IncidentRef,
    reason: Text = "",
    lift_containment: Annotated[str, Form(pattern="^(|on|yes)$")] = "",
) -> Response:
    who = page.require(Role.RESPONDER, "closing incidents")
    body = CloseBody(reason=reason, lift_containment=bool(lift_containment))
    try:
        closed = await close_incident(ref, body, page.state, who)
    except HTTPException as exc:
        return page.redirect(f"/incidents/{ref}", flash=f"Refused: {exc.detail}")
    return page.redirect(f"/incidents/{ref}", flash=close_confirmation(closed))


@router.get("/incidents/{ref}/alerts/{alert_id}/raw")
async def raw_alert(
    page: Page, ref: IncidentRef, alert_id: Annotated[str, Path(max_length=36)]
) -> Response:
    who = page.require(Role.RESPONDER, "raw evidence")
    try:
        raw = await asyncio.to_thread(evidence.raw_alert, page.state.store, ref, alert_id)
    except evidence.RawNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    await asyncio.to_thread(page.audit, "evidence.raw_viewed", ref, {"alert": alert_id})
    log.info("raw alert %s of %s shown to %s", alert_id, ref, who.name)
    # nosniff: the raw body is whatever the sender wrote, HTML included; never render it.
    return PlainTextResponse(
        raw, headers={"cache-control": "no-store", "x-content-type-options": "nosniff"}
    )


@router.get("/incidents/{ref}/evidence/{evidence_id}/raw")
async def raw_evidence(page: Page, ref: IncidentRef, evidence_id: evidence.EvidenceId) -> Response:
    page.require(Role.RESPONDER, "raw evidence")
    reader = evidence.evidence_reader(page.request)
    try:
        item, data = await asyncio.to_thread(
            evidence.raw_evidence, page.state.store, reader, ref, evidence_id
        )
    except evidence.RawNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    await asyncio.to_thread(
        page.audit, "evidence.raw_viewed", ref, {"evidence": item.name, "sha256": item.sha256}
    )
    return Response(
        data,
        media_type="text/plain; charset=utf-8",
        headers={"cache-control": "no-store", "x-content-type-options": "nosniff"},
    )


# --- playbooks, inventory, dead letters, audit ------------------------------------------


@router.get("/playbooks", response_class=HTMLResponse)
async def playbooks(page: Page) -> Response:
    page.require(Role.VIEWER, "reading playbooks")

    def read() -> tuple[dict[str, Any], dict[str, list[Incident]]]:
        catalog = discover(page.state.settings)
        with page.state.store.session() as session:
            runs = {
                name: queries.incident_list(session, queries.IncidentFilter(playbook=name), 0).rows[
                    :5
                ]
                for name in catalog
            }
        return dict(catalog), runs

    catalog, runs = await asyncio.to_thread(read)
    return page.render("playbooks.html", catalog=catalog, runs=runs)


@router.post("/playbooks/{name}/dry-run", response_class=HTMLResponse)
async def dry_run(
    page: CheckedForm,
    name: Annotated[str, Path(max_length=100)],
    alert: Annotated[StorableText, Form(max_length=1_000_000)],
    approve: Annotated[str, Form(pattern="^(all|none)$")] = "all",
) -> Response:
    page.require(Role.RESPONDER, "rehearsing playbooks")
    policy: Policy = "all" if approve == "all" else "none"
    try:
        parsed = rehearsal.rehearsed_alert(alert)
        report = await asyncio.to_thread(
            rehearsal.rehearse, page.state.settings, name, parsed, policy
        )
    except rehearsal.RehearsalError as exc:
        return page.render("dry_run.html", status=422, name=name, error=str(exc), report=None)
    return page.render("dry_run.html", name=name, error=None, report=report, text=render(report))


@router.get("/inventory", response_class=HTMLResponse)
async def inventory(page: Page) -> Response:
    page.require(Role.VIEWER, "reading the inventory")

    def read() -> queries.Inventory:
        with page.state.store.session() as session:
            return queries.inventory(session)

    return page.render("inventory.html", inventory=await asyncio.to_thread(read))


@router.get("/dead-letters", response_class=HTMLResponse)
async def dead_letters(page: Page, offset: Offset = 0) -> Response:
    page.require(Role.VIEWER, "reading dead letters")

    def read() -> tuple[list[Any], int]:
        with page.state.store.session() as session:
            return queries.dead_letters(session, offset)

    rows, total = await asyncio.to_thread(read)
    return page.render(
        "dead_letters.html", rows=rows, total=total, offset=offset, page_size=queries.PAGE
    )


@router.post("/dead-letters/{dead_letter_id}/replay")
async def replay(
    page: CheckedForm, dead_letter_id: Annotated[str, Path(max_length=36)]
) -> Response:
    who = page.require(Role.RESPONDER, "replaying dead letters")
    try:
        answer = await replay_dead_letter(dead_letter_id, ReplayBody(), page.state, who)
    except HTTPException as exc:
        return page.redirect("/dead-letters", flash=f"Refused: {exc.detail}")
    if isinstance(answer, Response):
        if answer.status_code == 503:
            return page.redirect(
                "/dead-letters", flash="Not replayed: the incident store is unavailable; retry."
            )
        return page.redirect(
            "/dead-letters", flash="Replay refused: the alert still fails validation."
        )
    await asyncio.to_thread(
        page.audit, "dead_letter.replay", dead_letter_id, {"alert": answer.alert_id}
    )
    return page.redirect(
        "/dead-letters", flash=f"Replayed as alert {answer.alert_id} ({answer.incident_id})."
    )


@router.get("/audit", response_class=HTMLResponse)
async def audit_log(
    page: Page,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    subject: Annotated[str | None, Query(max_length=300)] = None,
    verify: bool = False,
    offset: Offset = 0,
) -> Response:
    page.require(Role.VIEWER, "reading the audit log")

    def read() -> dict[str, Any]:
        with page.state.store.session() as session:
            rows, total = queries.audit_page(
                session,
                actor=actor or None,
                action=action or None,
                subject=subject or None,
                offset=offset,
            )
        checked = audit.verify(page.state.store) if verify else None
        return {"rows": rows, "total": total, "checked": checked}

    found = await asyncio.to_thread(read)
    return page.render(
        "audit.html",
        **found,
        actor=actor or "",
        action=action or "",
        subject=subject or "",
        offset=offset,
        page_size=queries.PAGE,
    )
