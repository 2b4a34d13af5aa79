"""Slack's HTTP entry points: button clicks and modals (`/slack/interactions`), the
`/smokejumper` slash command (`/slack/commands`) and the Events API (`/slack/events`:
channel messages, kept as notes of the incident they are about).

Every request is checked with slack-sdk's `SignatureVerifier` against the signing secret:
a missing, forged or stale signature, or one already used (a replay), is answered 401
before anything is parsed. What the click or command means is handled by the Slack
responder the process passes to `create_app` (`integrations.slack.responder`; the core
does not import integrations); it answers within Slack's 3 seconds and does slow work
afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, Protocol
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from slack_sdk.signature import SignatureVerifier

from smokejumper.api.state import AppState, app_state
from smokejumper.domain.text import UNSTORABLE_MESSAGE
from smokejumper.intake import json_body
from smokejumper.security.signatures import ReplayGuard, timestamp_fresh

router = APIRouter(prefix="/slack", tags=["slack"])
log = logging.getLogger("smokejumper.slack")

TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"
# Slack's own rule: a request more than five minutes old is refused.
WINDOW_SECONDS = 300
_REJECTED: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not form data, or a payload smokejumper cannot read (fields named)"},
    401: {"description": "Missing, forged, stale or replayed Slack signature"},
    404: {"description": "Slack is not configured"},
}


class SlackPayloadRefused(ValueError):
    """What a responder raises for a payload of another shape; its message names fields
    only (never their content)."""


class SlackResponder(Protocol):
    """What answers Slack's clicks and commands once they are verified."""

    async def interaction(self, payload: dict[str, Any]) -> dict[str, Any] | None: ...

    async def command(self, form: dict[str, str]) -> dict[str, Any]: ...

    async def event(self, event: dict[str, Any]) -> None: ...

    async def drain(self) -> None: ...


SlackResponderFactory = Callable[[AppState], SlackResponder]


class SlackGate:
    """Signature checks and the responder, built once per app."""

    def __init__(self, state: AppState, responder: SlackResponderFactory | None) -> None:
        slack = state.settings.slack
        if not slack.enabled or slack.signing_secret is None or responder is None:
            raise HTTPException(
                status_code=404,
                detail="Slack is not configured (slack.bot_token and slack.signing_secret)",
            )
        self.verifier = SignatureVerifier(slack.signing_secret.get_secret_value())
        self.replays = ReplayGuard(WINDOW_SECONDS)
        self.responder = responder(state)

    def check(self, body: bytes, timestamp: str | None, signature: str | None) -> None:
        if not timestamp or not signature:
            raise HTTPException(
                status_code=401, detail=f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required"
            )
        if not timestamp_fresh(timestamp, WINDOW_SECONDS):
            raise HTTPException(
                status_code=401, detail=f"{TIMESTAMP_HEADER} is not within five minutes of now"
            )
        if not self.verifier.is_valid(body, timestamp, signature):
            raise HTTPException(status_code=401, detail=f"{SIGNATURE_HEADER} does not match")
        if not self.replays.first_use(signature):
            raise HTTPException(status_code=401, detail="this request was already received")


def _gate(request: Request, state: Annotated[AppState, Depends(app_state)]) -> SlackGate:
    gate: SlackGate | None = getattr(request.app.state, "slack_gate", None)
    if gate is None:
        gate = SlackGate(state, getattr(request.app.state, "slack_responder", None))
        request.app.state.slack_gate = gate
    return gate


async def _verified_form(request: Request, gate: SlackGate) -> dict[str, str]:
    body = await request.body()
    gate.check(body, request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER))
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise HTTPException(status_code=400, detail="body is not UTF-8 form data") from None
    fields = {name: values[0] for name, values in form.items()}
    # Nothing Slack sends holds NUL; PostgreSQL would refuse it in a lookup or a reason.
    unstorable = sorted(
        json_body.storable_text(name)
        for name, value in fields.items()
        if not json_body.storable(value)
    )
    if unstorable:
        raise _refused(f"{', '.join(unstorable)}: {UNSTORABLE_MESSAGE}")
    return fields


def _answer(body: dict[str, Any] | None) -> Response:
    return Response(status_code=200) if body is None else JSONResponse(body)


def _form(required: list[str], fields: dict[str, str]) -> dict[str, Any]:
    """The form Slack posts, for the OpenAPI document (the route reads the raw body: the
    signature is over its bytes)."""
    properties = {name: {"type": "string", "description": text} for name, text in fields.items()}
    schema = {"type": "object", "required": required, "properties": properties}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }


@router.post(
    "/interactions",
    # An empty 200 acknowledges; a JSON one (a modal's errors) is for Slack to show.
    response_class=Response,
    responses=_REJECTED,
    openapi_extra=_form(["payload"], {"payload": "Slack's interaction payload, as JSON."}),
)
async def interactions(request: Request, gate: Annotated[SlackGate, Depends(_gate)]) -> Response:
    """Button clicks and modal submissions, in Slack's interaction payload format."""
    form = await _verified_form(request, gate)
    if "payload" not in form:
        raise _refused("payload: a JSON interaction payload is required")
    try:
        payload = json_body.loads(form["payload"], subject="payload")
    except json_body.JsonRefused as exc:
        fields = [error["field"] for error in exc.errors if error["field"] != "(body)"]
        at = f" at: {', '.join(fields)}" if fields else ""
        raise _refused(f"{exc.reason}{at}") from None
    if not isinstance(payload, dict):
        raise _refused("payload: must be a JSON object")
    try:
        answer = await gate.responder.interaction(payload)
    except SlackPayloadRefused as exc:
        raise _refused(str(exc)) from None
    return _answer(answer)


def _refused(detail: str) -> HTTPException:
    """A signed request smokejumper cannot read: Slack shows its user an error, and the
    log says which fields (never their content: a responder's words, incident details)."""
    log.warning("Slack interaction refused: %s", detail)
    return HTTPException(status_code=400, detail=detail)


@router.post(
    "/commands",
    response_class=Response,
    responses=_REJECTED,
    openapi_extra=_form(
        ["user_id"],
        {
            "user_id": "The Slack user who typed the command.",
            "channel_id": "Where it was typed.",
            "text": "What follows `/smokejumper`.",
        },
    ),
)
async def commands(request: Request, gate: Annotated[SlackGate, Depends(_gate)]) -> Response:
    """The `/smokejumper` slash command."""
    form = await _verified_form(request, gate)
    if "user_id" not in form:
        raise HTTPException(status_code=400, detail="user_id: required in a slash command")
    return _answer(await gate.responder.command(form))


class SlackEventsAnswer(BaseModel):
    challenge: str | None = None


@router.post(
    "/events",
    response_model=SlackEventsAnswer,
    responses=_REJECTED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {
                            "type": {"type": "string"},
                            "challenge": {"type": "string"},
                            "event": {"type": "object"},
                        },
                    }
                }
            },
        }
    },
)
async def events(request: Request, gate: Annotated[SlackGate, Depends(_gate)]) -> SlackEventsAnswer:
    """Slack's Events API: the URL check (`url_verification`), and `event_callback`s,
    of which channel messages in an incident's thread or channel become its notes."""
    body = await request.body()
    gate.check(body, request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER))
    try:
        payload = json_body.loads(body, subject="body")
    except json_body.JsonRefused:
        raise _refused("body: a JSON Events API payload is required") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise _refused("type: required")
    if payload["type"] == "url_verification":
        challenge = payload.get("challenge")
        if not isinstance(challenge, str):
            raise _refused("challenge: required in url_verification")
        return SlackEventsAnswer(challenge=challenge)
    event = payload.get("event")
    if payload["type"] == "event_callback" and isinstance(event, dict):
        await gate.responder.event(event)
    return SlackEventsAnswer()
