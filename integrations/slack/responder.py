"""What smokejumper does when a responder clicks a button or types `/smokejumper` in Slack.

Shared by the HTTP endpoints (`POST /slack/interactions`, `/slack/commands`, which verify
the signature first) and the Socket Mode client. Slack wants an answer within 3 seconds:
`interaction` and `command` return the immediate answer and leave the Temporal call and
the follow-up message (ephemeral, via the Web API) to a background task.

Decisions go to the incident's workflow exactly as the API's do: the `decide` update,
whose validator refuses a non-approver, a requester approving their own request, a second
answer, a decided or timed-out step; the refusal is what the clicker is told.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web import WebClient
from sqlalchemy import select
from temporalio.client import Client

from integrations.slack import case_commands, task_commands
from integrations.slack.client import web_client
from integrations.slack.feed import slack_feed
from integrations.slack.interactions import (
    DENY_CALLBACK,
    NOTE_CALLBACK,
    BlockActions,
    InvalidInteraction,
    ViewSubmission,
    modal_metadata,
    read_interaction,
)
from integrations.slack.templates import Raw, Renderer, mention
from integrations.slack.views import console_url, load_incident, mentions, people
from smokejumper.api.state import AppState
from smokejumper.config import Settings
from smokejumper.domain.incidents import IncidentStatus
from smokejumper.incidents import slas
from smokejumper.incidents.playbook_updates import IncidentNotFound, PlaybookRefused, decide
from smokejumper.incidents.service import find_incident
from smokejumper.sdk.approvals import Choice, DecisionRequest
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident, TimelineEvent

log = logging.getLogger("smokejumper.slack")

# The HTTP endpoints load this module by name and read these two.
__all__ = ["InvalidInteraction", "Responder"]

USAGE = (
    "Usage: `/smokejumper status [INCIDENT]`, `list`, `approve INCIDENT STEP [reason]`, "
    "`deny INCIDENT STEP reason`, `ack INCIDENT`, `escalate INCIDENT`, `report INCIDENT`, "
    f"{case_commands.ASSIGN_USAGE}, {case_commands.NOTE_USAGE}, "
    f"{task_commands.TASK_USAGE}, {task_commands.DONE_USAGE}"
)
Answer = dict[str, Any]


def slack_responder(state: AppState) -> Responder:
    """The responder of an API app (what `create_app(slack_responder=...)` takes)."""
    return Responder(state.settings, state.store, state.temporal)


class Responder:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        temporal: Callable[[], Awaitable[Client]],
        client: WebClient | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.temporal = temporal
        self.client = client or web_client(settings.slack)
        self.renderer = Renderer(settings.slack.templates_dir)
        self._tasks: set[asyncio.Task[None]] = set()
        # Tasks added or completed here reach the incident's thread through its relay.
        self.feed = slack_feed(store, settings, temporal)

    # -- entry points ---------------------------------------------------------------------

    async def interaction(self, payload: dict[str, Any]) -> Answer | None:
        """Handle Slack's interaction payload; returns the HTTP answer body (None: empty).

        Raises InvalidInteraction (naming the fields) when what it reads has another shape.
        """
        read = read_interaction(payload)
        if isinstance(read, BlockActions):
            channel = read.channel_id
            for action in read.actions:
                ref, _, step = action.value.partition("|")
                if not ref or not step:
                    continue
                user, trigger = read.user.id, read.trigger_id
                if action.action_id == "task_done":
                    self._later(self._mark_done(ref, step, user, channel))
                elif action.action_id == "approve":
                    self._later(self._decide(ref, step, True, "", user, channel))
                elif action.action_id == "retry":
                    self._later(self._decide(ref, step, True, "", user, channel, Choice.RETRY))
                elif action.action_id in ("done", "skip"):
                    clicked = Choice(action.action_id)
                    self._later(self._reason_modal(trigger, ref, step, channel, clicked))
                elif action.action_id == "deny":
                    self._later(self._reason_modal(trigger, ref, step, channel))
            return None
        if isinstance(read, ViewSubmission):
            if read.view.callback_id not in (DENY_CALLBACK, NOTE_CALLBACK):
                return None
            meta = modal_metadata(read.view)
            if not read.reason.strip():
                said = (
                    {Choice.DONE: "Say what was done.", Choice.SKIP: "Say why you skip."}.get(
                        meta.choice, "Say why you deny."
                    )
                    if meta.choice is not None
                    else "Say why you deny."
                )
                return {"response_action": "errors", "errors": {"reason": said}}
            self._later(
                self._decide(
                    meta.ref,
                    meta.step,
                    meta.choice is Choice.DONE,
                    read.reason,
                    read.user.id,
                    meta.channel,
                    meta.choice,
                )
            )
            return None
        return None

    async def command(self, form: dict[str, str]) -> Answer:
        """Handle `/smokejumper ...`; returns the immediate (ephemeral unless said) answer."""
        user, channel = form.get("user_id", ""), form.get("channel_id", "")
        try:
            words = shlex.split(form.get("text", ""))
        except ValueError:
            return self._reply("Unbalanced quotes. " + USAGE)
        if not words:
            return self._reply(USAGE)
        verb, args = words[0].lower(), words[1:]
        if verb == "list":
            return await asyncio.to_thread(self._list)
        if verb == "status":
            if not args:
                return await asyncio.to_thread(self._list)
            return await asyncio.to_thread(self._status, args[0])
        if verb in ("approve", "deny"):
            if len(args) < 2 or (verb == "deny" and len(args) < 3):
                return self._reply(
                    f"`{verb}` needs INCIDENT STEP"
                    + (" REASON. " if verb == "deny" else ". ")
                    + USAGE
                )
            ref, step, reason = args[0], args[1], " ".join(args[2:])
            self._later(self._decide(ref, step, verb == "approve", reason, user, channel))
            return self._reply(f"Recording your {verb} of step {step} on {ref}…")
        if verb in ("ack", "escalate", "report") and not args:
            return self._reply(f"`{verb}` needs an INCIDENT. " + USAGE)
        if verb == "ack":
            return await asyncio.to_thread(self._ack, args[0], user)
        if verb == "escalate":
            return await asyncio.to_thread(self._escalate, args[0], user)
        if verb == "report":
            return await asyncio.to_thread(self._report, args[0])
        if verb == "assign":
            said = await asyncio.to_thread(
                case_commands.assign, self.store, self.settings, user, args
            )
            return self._reply(said.text, in_channel=said.in_channel)
        if verb == "note":
            # The note as typed: shlex would drop its quotes and backslashes.
            typed = "".join(form.get("text", "").strip().split(None, 1)[1:])
            said = await asyncio.to_thread(
                case_commands.note, self.store, self.settings, user, typed
            )
            return self._reply(said.text, in_channel=said.in_channel)
        if verb in ("task", "done"):
            # As typed: shlex would drop a title's or a note's quotes and backslashes.
            typed = "".join(form.get("text", "").strip().split(None, 1)[1:])
            if verb == "task":
                said = await task_commands.add(self.store, self.settings, self.feed, user, typed)
            else:
                said = await task_commands.done_command(
                    self.store, self.settings, self.temporal, self.feed, user, typed
                )
            return self._reply(said.text, in_channel=said.in_channel)
        return self._reply(f"Unknown command `{verb}`. " + USAGE)

    async def event(self, event: dict[str, Any]) -> None:
        """An Events API event (a channel message): acknowledged at once, handled after."""
        if event.get("type") == "message":
            self._later(self._capture(event))

    async def _capture(self, event: dict[str, Any]) -> None:
        done = await asyncio.to_thread(
            case_commands.capture_message, self.store, self.settings, event
        )
        if done.tell is not None:
            await self._tell(str(event.get("channel") or ""), str(event.get("user")), done.tell)

    async def drain(self) -> None:
        """Wait for background work (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- decisions ------------------------------------------------------------------------

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Slack follow-up failed: %s", type(task.exception()).__name__)

    async def _decide(
        self,
        ref: str,
        step: str,
        approve: bool,
        reason: str,
        user: str,
        channel: str,
        choice: Choice | None = None,
    ) -> None:
        responder = self.settings.slack.users.get(user)
        if responder is None:
            await self._tell(
                channel,
                user,
                "Your Slack account is not linked to a responder, so you cannot approve or "
                f"deny. An operator can add `slack.users.{user}`.",
            )
            return
        request = DecisionRequest(
            step=step, approve=approve, choice=choice, actor=responder, reason=reason, via="slack"
        )
        verb = choice.value if choice is not None else "approve" if approve else "deny"
        try:
            receipt = await decide(self.store, self.temporal, ref, request)
        except IncidentNotFound:
            await self._tell(channel, user, f"There is no incident {ref}.")
            return
        except PlaybookRefused as exc:
            said = (
                f"{ref} has no running playbook to {verb} a step of."
                if exc.no_run
                else f"Your {verb} was not recorded: {exc}."
            )
            await self._tell(channel, user, said)
            return
        if receipt.decision is None:
            await self._tell(
                channel,
                user,
                f"Your approval of {step} is recorded; {receipt.approvals_missing} more "
                "approval(s) needed.",
            )

    async def _mark_done(self, ref: str, task: str, user: str, channel: str) -> None:
        """A task's "Mark done" click; the clicker is told how it went, the thread sees the
        task's message marked done (by the relay)."""
        said = await task_commands.complete(
            self.store, self.settings, self.temporal, self.feed, user, ref, task
        )
        await self._tell(channel, user, said.text)

    async def _reason_modal(
        self, trigger_id: str, ref: str, step: str, channel: str, choice: Choice | None = None
    ) -> None:
        """The modal a click that needs words opens: Deny (the reason), or a hand-off's Done
        by hand / Skip (the note); its submission carries back where it came from."""
        carried: dict[str, str] = {"ref": ref, "step": step, "channel": channel}
        if choice is not None:
            carried["choice"] = choice.value
        view = self.renderer.render(
            "deny_modal" if choice is None else "note_modal",
            ref=ref,
            step=step,
            choice=choice.value if choice is not None else "",
            # Ids the code carries back, not shown to anyone: passed as they are.
            metadata=Raw(json.dumps(carried)),
        )
        await asyncio.to_thread(self.client.views_open, trigger_id=trigger_id, view=view)

    async def _tell(self, channel: str, user: str, text: str) -> None:
        """An answer only `user` sees."""
        message = self.renderer.render("reply", text=text, mentions="")
        try:
            if channel:
                await asyncio.to_thread(
                    self.client.chat_postEphemeral, channel=channel, user=user, **message
                )
            else:
                await asyncio.to_thread(self.client.chat_postMessage, channel=user, **message)
        except SlackApiError as exc:
            log.warning("Slack answer to a responder failed: %s", exc.response.get("error"))

    # -- commands -------------------------------------------------------------------------

    def _reply(self, text: str, *, in_channel: bool = False, mentions: Raw | None = None) -> Answer:
        message = self.renderer.render("reply", text=text, mentions=mentions or "")
        return {"response_type": "in_channel" if in_channel else "ephemeral", **message}

    def _list(self) -> Answer:
        with self.store.session() as session:
            rows = session.scalars(
                select(Incident)
                .where(Incident.status != IncidentStatus.CLOSED.value)
                .order_by(Incident.id.desc())
                .limit(20)
            ).all()
            incidents = [
                {
                    "ref": row.ref or str(row.id),
                    "severity": row.severity,
                    "status": row.status,
                    "title": row.title,
                }
                for row in rows
            ]
        return {
            "response_type": "ephemeral",
            **self.renderer.render("incident_list", incidents=incidents),
        }

    def _status(self, ref: str) -> Answer:
        with self.store.session() as session:
            incident = find_incident(session, ref)
            if incident is None:
                return self._reply(f"There is no incident {ref}.")
            view = load_incident(session, incident, self.settings)
        return {
            "response_type": "ephemeral",
            **self.renderer.render("incident_card", incident=view),
        }

    def _report(self, ref: str) -> Answer:
        with self.store.session() as session:
            incident = find_incident(session, ref)
            if incident is None:
                return self._reply(f"There is no incident {ref}.")
            view = load_incident(session, incident, self.settings)
        done = sum(1 for step in view.steps if step.state in ("done", "approved"))
        url = f"{self.settings.api_url.rstrip('/')}/api/v1/incidents/{view.ref}/report"
        text = (
            f"{view.ref} ({view.severity}, {view.status}): {view.title}\n"
            f"{done} of {len(view.steps)} steps done"
            + (f"; waiting on {view.next}" if view.next else "")
            + f"\nFull report: {url}\nConsole: {console_url(self.settings, view.ref)}"
        )
        return self._reply(text)

    def _ack(self, ref: str, user: str) -> Answer:
        """As the API's acknowledge: audited, and it meets the acknowledge SLA."""
        responder = self.settings.slack.users.get(user)
        if responder is None:
            return self._reply("Your Slack account is not linked to a responder.")
        try:
            shown, _ = slas.acknowledge(self.store, ref, by=responder, via="slack")
        except slas.IncidentMissing:
            return self._reply(f"There is no incident {ref}.")
        except slas.AcknowledgeRefused as exc:
            return self._reply(f"{exc}.")
        return self._reply(
            f"{shown} acknowledged by {responder}.",
            in_channel=True,
            mentions=mention(user, responder),
        )

    def _escalate(self, ref: str, user: str) -> Answer:
        responder = self.settings.slack.users.get(user)
        if responder is None:
            return self._reply("Your Slack account is not linked to a responder.")
        with self.store.transaction() as session:
            incident = find_incident(session, ref)
            if incident is None:
                return self._reply(f"There is no incident {ref}.")
            shown = incident.ref or str(incident.id)
            session.add(
                TimelineEvent(
                    incident_id=incident.id,
                    kind="incident.escalated",
                    actor=responder,
                    message=f"Escalated by {responder} via slack",
                    data={"to": ", ".join(self.settings.slack.escalate_to)},
                )
            )
        named = people(self.settings.slack.escalate_to, self.settings.approvers)
        return self._reply(
            f"{shown} escalated by {responder}.",
            in_channel=True,
            mentions=mentions(self.settings, named),
        )
