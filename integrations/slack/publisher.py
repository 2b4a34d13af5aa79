"""Publishing an incident's timeline to Slack: the card, threaded replies, approvals.

One timeline event at a time, in order (the relay workflow guarantees it). The card is
posted with the first event and then re-rendered from the store and updated in place,
so it always shows the incident as it is, whatever events a Slack outage made us skip.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse, WebClient

from integrations.slack.messages import SlackPosts
from integrations.slack.templates import Raw, Renderer, safe, truncated
from integrations.slack.views import (
    IncidentView,
    event_icon,
    event_time,
    load_incident,
    load_task,
    mentions,
    verdict,
    votes_for,
)
from smokejumper.config import Settings
from smokejumper.domain.incidents import TimelineEntry
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident

# Events that get a threaded reply under the card.
THREADED = frozenset(
    {
        "step.started",
        "step.completed",
        "step.failed",
        "approval.vote",
        "approval.approved",
        "approval.denied",
        "approval.timed_out",
        "approval.withdrawn",
        "playbook.finished",
        "playbook.stopped",
        "playbook.failed",
        "playbook.aborted",
        "playbook.restoring",
        "incident.status",
        "incident.severity",
        "clock.started",
        "task.completed",
        "task.timed_out",
    }
)
# Events posted to the channel itself, mentioning the people concerned.
ANNOUNCED = {
    "clock.reminder": ":alarm_clock:",
    "clock.breached": ":rotating_light:",
    "approval.escalated": ":arrow_double_up:",
    "notification": ":loudspeaker:",
    "incident.escalated": ":rotating_light:",
    "sla.reminded": ":alarm_clock:",
    "sla.breached": ":rotating_light:",
    "task.escalated": ":arrow_double_up:",
}
# Events after which a task's message shows it done or cancelled (its button gone).
TASK_SETTLED = frozenset({"task.completed", "task.cancelled", "task.timed_out"})
# Events that replace an approval's buttons with its outcome.
DECIDED = frozenset(
    {"approval.approved", "approval.denied", "approval.timed_out", "approval.withdrawn"}
)

Progress = Callable[[SlackPosts], None]


def approval_value(ref: str, step: str) -> Raw:
    """What an Approve/Deny button carries back: the incident and the step."""
    return Raw(f"{ref}|{step}")


def channel_name(settings: Settings, view: IncidentView) -> str:
    number = view.ref.split("-", 1)[-1] if view.ref.upper().startswith("INC-") else view.ref
    name = f"{settings.slack.channel_prefix}-{number}-{view.kind}".lower()
    return re.sub(r"[^a-z0-9_-]+", "-", name)[:80]


class Publisher:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: WebClient,
        renderer: Renderer,
        resolve: Callable[[list[str]], list[str]],
    ) -> None:
        self.settings = settings
        self.slack = settings.slack
        self.store = store
        self.client = client
        self.renderer = renderer
        self.resolve = resolve

    async def deliver(
        self, entry: TimelineEntry, posts: SlackPosts, progress: Progress
    ) -> SlackPosts:
        """Tell Slack about one event; returns where things are now posted."""
        posts = posts.model_copy(deep=True)
        if posts.partial_key != entry.event_key:
            posts.partial_key, posts.partial = entry.event_key, []

        async def once(action: str, call: Callable[[], Awaitable[Any]]) -> None:
            if action in posts.partial:
                return
            await call()
            posts.partial.append(action)
            progress(posts)

        view, extra = await asyncio.to_thread(self._read, entry)
        fresh_card = posts.card_ts is None
        if fresh_card:
            await self._open(view, posts, once)
        assert posts.channel is not None and posts.card_ts is not None
        step = entry.step or ""
        if entry.kind == "approval.requested" and step not in posts.approvals:
            await once("approval", lambda: self._ask(view, entry, posts))
        if entry.kind in DECIDED and step in posts.approvals and step not in posts.decided:
            await once("decided", lambda: self._decided(view, entry, posts, extra))
        task = extra.get("task")
        if task is not None:
            key = str(task["id"])
            if entry.kind == "task.created" and key not in posts.tasks:
                await once("task", lambda: self._task(view, task, posts))
            elif entry.kind in TASK_SETTLED and key in posts.tasks:
                await once("task_settled", lambda: self._task_settled(view, task, posts))
        if entry.kind in ANNOUNCED:
            await once("announce", lambda: self._announce(view, entry, posts))
        if entry.kind in THREADED:
            await once("thread", lambda: self._reply(view, entry, posts))
        if not fresh_card:
            await once("card", lambda: self._update_card(view, posts))
        posts.partial_key, posts.partial = None, []
        return posts

    def _read(self, entry: TimelineEntry) -> tuple[IncidentView, dict[str, Any]]:
        with self.store.session() as session:
            incident = session.get(Incident, entry.incident_id)
            if incident is None:
                raise ValueError(f"incident {entry.incident_id} does not exist")
            view = load_incident(session, incident, self.settings)
            extra: dict[str, Any] = {}
            if entry.kind in DECIDED and entry.step:
                extra["votes"] = votes_for(session, incident.id, entry.step)
                extra["at"] = event_time(session, entry.event_key)
            task_id = entry.data.get("task")
            if entry.kind.startswith("task.") and isinstance(task_id, int):
                extra["task"] = load_task(session, task_id, self.settings)
            return view, extra

    async def _open(
        self,
        view: IncidentView,
        posts: SlackPosts,
        once: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[None]],
    ) -> None:
        """A new incident: its channel (per config), the triage notice and the card."""
        if self.slack.incident_channels and posts.channel is None:

            async def create() -> None:
                name = channel_name(self.settings, view)
                # Taken (an archived channel of another install, a retry whose answer was
                # lost): the next free suffix, rather than no channel at all. Incident
                # numbers start again with a new database, so all nine can be taken by
                # channels of earlier installs: then a suffix no earlier channel has.
                candidates = [
                    name,
                    *(f"{name[:77]}-{n}" for n in range(2, 10)),
                    *(f"{name[:72]}-{uuid.uuid4().hex[:7]}" for _ in range(3)),
                ]
                for candidate in candidates:
                    try:
                        answer = await self._slack("conversations_create", name=candidate)
                    except SlackApiError as exc:
                        if exc.response.get("error") != "name_taken":
                            raise
                        continue
                    posts.channel = str(answer["channel"]["id"])
                    return
                raise ValueError(f"Slack channel names {name} to {name}-9 are all taken")

            await once("channel", create)
        if self.slack.incident_channels:
            people = [uid for name in self._oncall() if (uid := self.slack.slack_id(name))]
            channel = posts.channel
            assert channel is not None
            if people:
                await once(
                    "invite",
                    lambda: self._slack(
                        "conversations_invite", channel=channel, users=",".join(people)
                    ),
                )
            # A topic is mrkdwn too: alert text must not mention @channel or make links there.
            topic = str(truncated(f"{view.severity.upper()} {view.kind}: {view.title}", 250))
            await once(
                "topic",
                lambda: self._slack("conversations_setTopic", channel=channel, topic=topic),
            )
        if self.slack.triage_channel:
            triage = self.slack.triage_channel
            notice = self.renderer.render(
                "triage_notice", incident=view, channel=posts.channel or ""
            )
            if posts.channel is not None:
                await once(
                    "triage",
                    lambda: self._slack("chat_postMessage", channel=triage, **notice),
                )
            else:
                posts.channel = triage

        async def card() -> None:
            message = self.renderer.render("incident_card", incident=view)
            answer = await self._slack("chat_postMessage", channel=posts.channel, **message)
            posts.card_ts = str(answer["ts"])
            await asyncio.to_thread(self._remember_card, view.id, posts)

        await once("card", card)

    def _remember_card(self, incident_id: int, posts: SlackPosts) -> None:
        """Where the card is, so replies in its thread (or its own channel) become notes."""
        with self.store.transaction() as session:
            incident = session.get(Incident, incident_id)
            if incident is not None:
                incident.slack_channel = posts.channel
                incident.slack_thread_ts = posts.card_ts

    def _oncall(self) -> list[str]:
        return self.resolve(self.slack.oncall)

    async def _slack(self, method: str, **arguments: Any) -> SlackResponse:
        # slack-sdk's WebClient blocks; its async client would need another HTTP stack.
        response: SlackResponse = await asyncio.to_thread(getattr(self.client, method), **arguments)
        return response

    async def _update_card(self, view: IncidentView, posts: SlackPosts) -> None:
        message = self.renderer.render("incident_card", incident=view)
        await self._slack("chat_update", channel=posts.channel, ts=posts.card_ts, **message)

    async def _reply(self, view: IncidentView, entry: TimelineEntry, posts: SlackPosts) -> None:
        actor = entry.actor
        shown = None if actor.startswith("playbook:") else mentions(self.settings, [actor])
        message = self.renderer.render(
            "step_reply",
            incident=view,
            event={
                "kind": entry.kind,
                "message": entry.message,
                "icon": event_icon(entry.kind),
                "actor_mention": shown,
            },
        )
        await self._slack(
            "chat_postMessage", channel=posts.channel, thread_ts=posts.card_ts, **message
        )

    async def _ask(self, view: IncidentView, entry: TimelineEntry, posts: SlackPosts) -> None:
        step = entry.step or ""
        approvers = str(entry.data.get("approvers") or "")
        people = self.resolve([a.strip() for a in approvers.split(",") if a.strip()])
        question = entry.message.split(": ", 1)[-1]
        message = self.renderer.render(
            "approval_request",
            incident=view,
            approval={
                "step": step,
                "question": question,
                "risk": str(entry.data.get("risk") or ""),
                "approvers": mentions(self.settings, people) or Raw(safe(approvers)),
                "value": approval_value(view.ref, step),
                # A failed step put to people: answered retry / done by hand / skip.
                "choices": [
                    c.strip() for c in str(entry.data.get("choices") or "").split(",") if c.strip()
                ],
            },
        )
        answer = await self._slack("chat_postMessage", channel=posts.channel, **message)
        posts.approvals[step] = str(answer["ts"])

    async def _decided(
        self, view: IncidentView, entry: TimelineEntry, posts: SlackPosts, extra: dict[str, Any]
    ) -> None:
        step = entry.step or ""
        icon, said, reason = verdict(
            self.settings,
            entry.kind,
            extra.get("votes", []),
            str(entry.data.get("choice") or "") or None,
        )
        message = self.renderer.render(
            "approval_decided",
            incident=view,
            approval={
                "step": step,
                "question": "",
                "outcome": entry.kind.removeprefix("approval."),
                "icon": icon,
                "verdict": said,
                "at": extra.get("at", ""),
                "reason": reason or (entry.message if entry.kind == "approval.timed_out" else ""),
            },
        )
        await self._slack("chat_update", channel=posts.channel, ts=posts.approvals[step], **message)
        posts.decided.append(step)

    async def _task(self, view: IncidentView, task: dict[str, Any], posts: SlackPosts) -> None:
        message = self.renderer.render("task", incident=view, task=task)
        answer = await self._slack(
            "chat_postMessage", channel=posts.channel, thread_ts=posts.card_ts, **message
        )
        posts.tasks[str(task["id"])] = str(answer["ts"])

    async def _task_settled(
        self, view: IncidentView, task: dict[str, Any], posts: SlackPosts
    ) -> None:
        message = self.renderer.render("task", incident=view, task=task)
        ts = posts.tasks[str(task["id"])]
        await self._slack("chat_update", channel=posts.channel, ts=ts, **message)

    async def _announce(self, view: IncidentView, entry: TimelineEntry, posts: SlackPosts) -> None:
        people: list[str] = []
        if entry.kind == "notification":
            people = [p.strip() for p in str(entry.data.get("to") or "").split(",") if p.strip()]
        elif entry.kind in ("clock.breached", "sla.breached", "task.escalated"):
            named = [p.strip() for p in str(entry.data.get("escalate_to") or "").split(",")]
            people = self.resolve([p for p in named if p] or self.slack.escalate_to)
        elif entry.kind == "incident.escalated":
            people = self.resolve(self.slack.escalate_to)
        elif entry.kind == "approval.escalated":
            # "No decision on <step> after <delay>; also asking <approvers>"
            asked = entry.message.rpartition("also asking ")[2]
            people = self.resolve([p.strip() for p in asked.split(",") if p.strip()])
        else:
            people = self._oncall()
        message = self.renderer.render(
            "announcement",
            incident=view,
            icon=ANNOUNCED[entry.kind],
            message=entry.message,
            mentions=mentions(self.settings, people),
        )
        await self._slack("chat_postMessage", channel=posts.channel, **message)
