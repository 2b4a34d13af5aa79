"""Webhooks of the mirrored tools: what responders do in PagerDuty, Jira or Opsgenie comes
back to the incident (smokejumper.api.mirror_changes).

- `POST /webhooks/pagerduty`: PagerDuty V3 webhooks, signed: `X-PagerDuty-Signature` holds
  `v1=<hex HMAC-SHA256 of the body>` under the subscription's secret (several, comma
  separated, while a secret is rotated).
  https://developer.pagerduty.com/docs/webhooks-overview#webhook-signatures
- `POST /webhooks/jira`: Jira Cloud webhooks registered with a secret: `X-Hub-Signature`
  holds `sha256=<hex HMAC-SHA256 of the body>`.
  https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks
- `POST /webhooks/opsgenie`: Opsgenie's outgoing webhooks are not signed; the webhook
  integration is given a custom header, `X-Smokejumper-Token`, holding the configured
  secret, compared in constant time. https://support.atlassian.com/opsgenie/docs/integrate-opsgenie-with-webhook/

Refused before anything is read: a tool that is not configured (404), a missing or wrong
signature (401), a body that is too large (413). A body of another shape is 400, naming
the field. Answers say whether anything changed; an event we do not act on is 200.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, SecretStr

from smokejumper.api.mirror_changes import Outcome, add_note, incident_of, set_status
from smokejumper.api.state import AppState, app_state
from smokejumper.incidents.case_work import CaseInvalid
from smokejumper.settings.mirrors import JIRA_COMMENT_MARK

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
log = logging.getLogger("smokejumper.mirrors")

MAX_BODY = 1_000_000
PAGERDUTY_SIGNATURE = "x-pagerduty-signature"
JIRA_SIGNATURE = "x-hub-signature"
OPSGENIE_HEADER = "x-smokejumper-token"
_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"description": "A body of another shape (the field is named)"},
    401: {"description": "Missing or wrong signature"},
    404: {"description": "This tool's webhook is not configured"},
    413: {"description": "Body too large"},
}


class WebhookAnswer(BaseModel):
    incident: str | None
    applied: bool
    detail: str


def _answer(outcome: Outcome) -> WebhookAnswer:
    return WebhookAnswer(incident=outcome.incident, applied=outcome.applied, detail=outcome.detail)


def _ignored(detail: str) -> WebhookAnswer:
    return WebhookAnswer(incident=None, applied=False, detail=detail)


def _secret(secret: SecretStr | None, name: str) -> bytes:
    if secret is None:
        raise HTTPException(status_code=404, detail=f"{name}.webhook_secret is not configured")
    return secret.get_secret_value().encode()


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(status_code=413, detail=f"body larger than {MAX_BODY} bytes")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(status_code=413, detail=f"body larger than {MAX_BODY} bytes")
    return body


def _digest(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def _same(expected: str, given: str) -> bool:
    """A signature compared in constant time, as bytes: a header may hold any byte (read
    as Latin-1), and comparing str with non-ASCII raises rather than answering no."""
    return hmac.compare_digest(expected.encode(), given.strip().encode("latin-1", "replace"))


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HTTPException(status_code=400, detail="(body): not JSON") from None
    except RecursionError:
        raise HTTPException(status_code=400, detail="(body): nested too deeply") from None
    if not isinstance(value, dict):
        raise HTTPException(status_code=400, detail="(body): must be a JSON object")
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HTTPException(status_code=400, detail=f"{field}: must be an object")
    return value


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
        raise HTTPException(status_code=400, detail=f"{field}: required (a string)")
    text = str(value)
    if "\x00" in text or len(text) > 10_000:
        raise HTTPException(status_code=400, detail=f"{field}: not a storable string")
    return text


# A tool's id of an event, a comment or an alert (tens of characters in practice): it goes
# into business keys of 300 characters, after a prefix and an issue key of up to 200.
ID_MAX = 80


def _id(value: Any, field: str) -> str:
    text = _string(value, field)
    if len(text) > ID_MAX:
        raise HTTPException(status_code=400, detail=f"{field}: at most {ID_MAX} characters")
    return text


def _name(value: Any) -> str:
    """A person as the tool names them, short and printable (an actor, not content)."""
    text = value if isinstance(value, str) else ""
    text = "".join(c for c in text if c.isprintable())[:120]
    return text or "unknown"


# --- PagerDuty -------------------------------------------------------------------------

_PAGERDUTY_STATUS = {"incident.acknowledged": "acknowledged", "incident.resolved": "resolved"}


@router.post("/pagerduty", response_model=WebhookAnswer, responses=_REFUSED)
async def pagerduty(
    request: Request, state: Annotated[AppState, Depends(app_state)]
) -> WebhookAnswer:
    """A PagerDuty V3 webhook: `incident.acknowledged` and `incident.resolved` of an
    incident we paged (its `incident_key` is our ref) acknowledge or resolve it here."""
    settings = state.settings.pagerduty
    if settings is None:
        raise HTTPException(status_code=404, detail="pagerduty is not configured")
    secret = _secret(settings.webhook_secret, "pagerduty")
    body = await _body(request)
    header = request.headers.get(PAGERDUTY_SIGNATURE, "")
    expected = f"v1={_digest(secret, body)}"
    if not any(_same(expected, s) for s in header.split(",") if s.strip()):
        raise HTTPException(status_code=401, detail=f"{PAGERDUTY_SIGNATURE} does not match")
    event = _object(_json(body).get("event"), "event")
    event_type = _string(event.get("event_type"), "event.event_type")
    status = _PAGERDUTY_STATUS.get(event_type)
    if status is None:
        return _ignored(f"{event_type} is not acted on")
    event_id = _id(event.get("id"), "event.id")
    data = _object(event.get("data"), "event.data")
    key = data.get("incident_key")
    ref = await asyncio.to_thread(
        incident_of,
        state.store,
        "pagerduty",
        key if isinstance(key, str) else None,
        str(data.get("id") or "") or None,
    )
    if ref is None:
        return _ignored("not an incident of ours")
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    actor = f"pagerduty:{_name((agent or {}).get('summary'))}"
    outcome = await asyncio.to_thread(
        set_status,
        state.store,
        ref,
        status,
        actor=actor,
        via="pagerduty",
        event_key=f"pagerduty:{event_id}",
    )
    return _answer(outcome)


# --- Jira ------------------------------------------------------------------------------


@router.post("/jira", response_model=WebhookAnswer, responses=_REFUSED)
async def jira(request: Request, state: Annotated[AppState, Depends(app_state)]) -> WebhookAnswer:
    """A Jira Cloud webhook of an incident's issue: `comment_created` adds a note;
    `jira:issue_updated` with a status change sets the status `jira.statuses` maps it to."""
    settings = state.settings.jira
    if settings is None:
        raise HTTPException(status_code=404, detail="jira is not configured")
    secret = _secret(settings.webhook_secret, "jira")
    body = await _body(request)
    header = request.headers.get(JIRA_SIGNATURE, "")
    if not _same(f"sha256={_digest(secret, body)}", header):
        raise HTTPException(status_code=401, detail=f"{JIRA_SIGNATURE} does not match")
    payload = _json(body)
    kind = _string(payload.get("webhookEvent"), "webhookEvent")
    issue = _object(payload.get("issue"), "issue")
    issue_key = _string(issue.get("key"), "issue.key")
    ref = await asyncio.to_thread(incident_of, state.store, "jira", None, issue_key)
    if ref is None:
        return _ignored("not an issue of ours")
    if kind == "comment_created":
        comment = _object(payload.get("comment"), "comment")
        comment_id = _id(comment.get("id"), "comment.id")
        text = _plain(comment.get("body"))
        if not text.strip():
            raise HTTPException(status_code=400, detail="comment.body: required")
        # The whole mark, separator included: a responder's comment that merely begins
        # with the product's name is theirs.
        if text.startswith(JIRA_COMMENT_MARK):
            return WebhookAnswer(incident=ref, applied=False, detail="our own comment")
        author = _object(comment.get("author") or {}, "comment.author")
        try:
            outcome = await asyncio.to_thread(
                add_note,
                state.store,
                ref,
                text[:10_000],
                author=f"jira:{_name(author.get('displayName'))}",
                via="jira",
                key=f"jira:comment:{comment_id}",
            )
        except CaseInvalid as exc:
            raise HTTPException(status_code=400, detail=f"comment.body: {exc}") from None
        return _answer(outcome)
    if kind == "jira:issue_updated":
        changelog = _object(payload.get("changelog") or {}, "changelog")
        items = changelog.get("items") or []
        moved = [i for i in items if isinstance(i, dict) and i.get("field") == "status"]
        if not moved:
            return _ignored("no status change")
        to = str(moved[-1].get("toString") or "")
        status = {k.casefold(): v for k, v in settings.statuses.items()}.get(to.casefold())
        if status is None:
            return WebhookAnswer(incident=ref, applied=False, detail=f"{to!r} is not mapped")
        user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
        change = _id(changelog.get("id") or payload.get("timestamp"), "changelog.id")
        outcome = await asyncio.to_thread(
            set_status,
            state.store,
            ref,
            status,
            actor=f"jira:{_name((user or {}).get('displayName'))}",
            via="jira",
            event_key=f"jira:{issue_key}:{change}",
        )
        return _answer(outcome)
    return _ignored(f"{kind} is not acted on")


def _plain(body: Any) -> str:
    """A comment body: a string (webhooks send v2's), or an ADF document."""
    if isinstance(body, str):
        return body
    parts: list[str] = []
    # Depth first, in document order, without recursion: the nesting is the sender's.
    pending: list[Any] = [body]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                parts.append(node["text"])
            children = node.get("content")
            if isinstance(children, list):
                pending.extend(reversed(children))
    return "".join(parts)


# --- Opsgenie --------------------------------------------------------------------------

_OPSGENIE_STATUS = {"Acknowledge": "acknowledged", "Close": "resolved"}


@router.post("/opsgenie", response_model=WebhookAnswer, responses=_REFUSED)
async def opsgenie(
    request: Request, state: Annotated[AppState, Depends(app_state)]
) -> WebhookAnswer:
    """An Opsgenie webhook integration's post: `Acknowledge` and `Close` of an alert we
    created (its alias is our ref) acknowledge or resolve the incident."""
    settings = state.settings.opsgenie
    if settings is None:
        raise HTTPException(status_code=404, detail="opsgenie is not configured")
    secret = _secret(settings.webhook_secret, "opsgenie")
    body = await _body(request)
    # The header's bytes as sent (Starlette reads them as Latin-1).
    token = request.headers.get(OPSGENIE_HEADER, "").encode("latin-1", "replace")
    if not hmac.compare_digest(secret, token):
        raise HTTPException(status_code=401, detail=f"{OPSGENIE_HEADER} does not match")
    payload = _json(body)
    action = _string(payload.get("action"), "action")
    status = _OPSGENIE_STATUS.get(action)
    if status is None:
        return _ignored(f"{action} is not acted on")
    alert = _object(payload.get("alert"), "alert")
    alias = alert.get("alias")
    alert_id = _id(alert.get("alertId"), "alert.alertId")
    ref = await asyncio.to_thread(
        incident_of, state.store, "opsgenie", alias if isinstance(alias, str) else None, None
    )
    if ref is None:
        return _ignored("not an alert of ours")
    outcome = await asyncio.to_thread(
        set_status,
        state.store,
        ref,
        status,
        actor=f"opsgenie:{_name(alert.get('username'))}",
        via="opsgenie",
        event_key=f"opsgenie:{alert_id}:{action}",
    )
    return _answer(outcome)
