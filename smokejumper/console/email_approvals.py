"""Approve/Deny links from approval e-mails: a confirmation page, then a form.

Opening a link (GET) decides nothing: it needs a signed-in responder, checks the link
(signed, for this step and this user, not expired, not used), and shows the step masked
with a form. Only that form's POST, carrying the session's CSRF token and the link, votes
— through the same `decide` as the console's own buttons (the playbook's approver, own
request, two-person and already-answered rules), recorded with `via="email"`. A mail
scanner that fetches the link, or someone the mail was forwarded to, cannot vote.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Path, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from smokejumper.api.incident_actions import decide
from smokejumper.console import queries
from smokejumper.console.context import ConsoleRefusal, Page, Visit
from smokejumper.console.context import Form as CheckedForm
from smokejumper.domain.text import StorableText
from smokejumper.incidents.service import find_incident
from smokejumper.sdk.approvals import DecisionRequest
from smokejumper.security import approval_links
from smokejumper.security.approval_links import ApprovalLink, LinkRefused
from smokejumper.security.users import Role
from smokejumper.store.tables import TimelineEvent

log = logging.getLogger("smokejumper.console")

router = APIRouter(include_in_schema=False)

IncidentRef = Annotated[str, Path(max_length=120)]
Step = Annotated[str, Path(max_length=100)]
Token = Annotated[str | None, Query(max_length=2000)]
_DECIDED = ("approval.approved", "approval.denied", "approval.timed_out", "approval.withdrawn")


def _key(page: Visit) -> bytes:
    return approval_links.link_key(page.state.settings, page.state.operator_token)


def _checked(page: Visit, ref: str, step: str, token: str | None) -> ApprovalLink:
    """The link, or a 400/410 page saying why it cannot be used."""
    assert page.principal is not None
    if not token:
        raise ConsoleRefusal(400, "This approval link has no token: open it from the e-mail.")
    try:
        link = approval_links.read(_key(page), token, ref, step, page.principal.name)
    except LinkRefused as exc:
        raise ConsoleRefusal(400, str(exc)) from None
    with page.state.store.session() as session:
        if approval_links.used(session, link):
            raise ConsoleRefusal(410, "This approval link has been used already.")
        incident = find_incident(session, ref)
        if incident is None:
            raise HTTPException(status_code=404, detail=f"no incident {ref!r}")
        latest = session.scalar(
            select(TimelineEvent.event_key)
            .where(
                TimelineEvent.incident_id == incident.id,
                TimelineEvent.step == step,
                TimelineEvent.kind == "approval.requested",
            )
            .order_by(TimelineEvent.id.desc())
            .limit(1)
        )
    if latest is None or not approval_links.issued_for(_key(page), link, latest):
        raise ConsoleRefusal(
            410,
            "This approval link was sent for an earlier request of this step, which no "
            "longer decides anything. Decide from the incident's page.",
        )
    return link


def _request(page: Visit, ref: str, step: str) -> dict[str, Any]:
    with page.state.store.session() as session:
        incident = find_incident(session, ref)
        if incident is None:
            raise HTTPException(status_code=404, detail=f"no incident {ref!r}")
        outcome = session.scalar(
            select(TimelineEvent.kind)
            .where(
                TimelineEvent.incident_id == incident.id,
                TimelineEvent.step == step,
                TimelineEvent.kind.in_(_DECIDED),
            )
            .order_by(TimelineEvent.id.desc())
        )
        return {
            "incident": incident,
            "asked": queries.approval_requests(session, incident.id).get(step),
            "outcome": outcome.removeprefix("approval.").replace("_", " ") if outcome else None,
        }


@router.get("/incidents/{ref}/approvals/{step}", response_class=HTMLResponse)
async def confirm_page(
    page: Page,
    ref: IncidentRef,
    step: Step,
    t: Token = None,
    decision: Annotated[str, Query(max_length=10)] = "approve",
) -> Response:
    """What an e-mail's Approve/Deny link opens: sign in first, then confirm."""
    page.require(Role.RESPONDER, "deciding approvals")
    link = await asyncio.to_thread(_checked, page, ref, step, t)
    found = await asyncio.to_thread(_request, page, ref, step)
    return page.render(
        "email_approval.html",
        ref=ref,
        step=step,
        token=t,
        link=link,
        choice="deny" if decision == "deny" else "approve",
        action=f"/incidents/{quote(ref, safe='')}/approvals/{quote(step, safe='')}/confirm",
        **found,
    )


@router.post("/incidents/{ref}/approvals/{step}/confirm")
async def confirm(
    page: CheckedForm,
    ref: IncidentRef,
    step: Step,
    t: Annotated[str, Form(max_length=2000)],
    decision: Annotated[str, Form(pattern="^(approve|deny)$")],
    reason: Annotated[StorableText, Form(max_length=2000)] = "",
) -> Response:
    """The vote, once the signed-in responder confirmed it; the link is used up."""
    who = page.require(Role.RESPONDER, "deciding approvals")
    link = await asyncio.to_thread(_checked, page, ref, step, t)
    await asyncio.to_thread(_use, page, link)
    request = DecisionRequest(
        step=step, approve=decision == "approve", actor=who.name, reason=reason, via="email"
    )
    back = f"/incidents/{quote(ref, safe='')}"
    try:
        receipt = await decide(page.state, ref, request)
    except HTTPException as exc:
        # The playbook's answer (not an approver, already decided, ...) settles the link.
        return page.redirect(back, flash=f"Refused: {exc.detail}")
    except BaseException:
        # Nothing reached the playbook (Temporal unreachable): the link may be tried again.
        await asyncio.to_thread(_release, page, link)
        raise
    log.info("%s decided %s of %s from an e-mail link", who.name, step, ref)
    if receipt.decision is not None:
        message = f"Step {step} {receipt.decision.outcome}."
    else:
        message = f"Your vote on {step} is in; {receipt.approvals_missing} more approval(s) needed."
    return page.redirect(back, flash=message)


def _use(page: Visit, link: ApprovalLink) -> None:
    try:
        with page.state.store.transaction() as session:
            approval_links.use(session, link)
    except LinkRefused as exc:
        raise ConsoleRefusal(410, str(exc)) from None


def _release(page: Visit, link: ApprovalLink) -> None:
    with page.state.store.transaction() as session:
        approval_links.release(session, link)
