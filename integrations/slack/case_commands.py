"""Case work from Slack: `/smokejumper assign`, `/smokejumper note`, and replies in an
incident's thread or channel kept as its notes.

Only a Slack user linked to a responder (`slack.users`) writes; what they write is
recorded as that responder, `via` slack. Captured messages: replies in the thread of the
incident's card, and any message in the incident's own channel (not the triage channel,
where other incidents are talked about too). Messages of bots, the app's own included,
and edits, joins and other message subtypes are not notes (a reply also sent to the
channel, or one with a file, is). A message from an unlinked user is not kept; they are
told so, once per message, where only they see it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from smokejumper.config import Settings
from smokejumper.incidents import case_work
from smokejumper.incidents.case_work import CaseConflict, CaseInvalid, CaseNotFound
from smokejumper.store.db import Store
from smokejumper.store.tables import Incident

ASSIGN_USAGE = "`assign INCIDENT @user [commander]`"
NOTE_USAGE = "`note INCIDENT text`"
# How Slack writes a mention in a command's text: `<@U0BOB0001|bob>` or `<@U0BOB0001>`.
_MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>$")
NOT_LINKED = "Your Slack account is not linked to a responder."
# Message subtypes a person wrote as a new message: a plain one, a thread reply also sent
# to the channel, one with a file. Edits, deletions, joins and bots' messages are not.
_WRITTEN = frozenset({None, "thread_broadcast", "file_share"})


@dataclass(frozen=True)
class Said:
    """What to answer: `text`, in the channel for all to see or only to the user."""

    text: str
    in_channel: bool = False


def responder_named(settings: Settings, word: str) -> str | None:
    """The responder a command names: a Slack mention of a linked user, `@name` or `name`."""
    mentioned = _MENTION.match(word)
    if mentioned:
        return settings.slack.users.get(mentioned.group(1))
    return word.removeprefix("@") or None


def assign(store: Store, settings: Settings, user: str, args: list[str]) -> Said:
    responder = settings.slack.users.get(user)
    if responder is None:
        return Said(NOT_LINKED)
    if len(args) < 2 or (len(args) == 3 and args[2].lower() != "commander") or len(args) > 3:
        return Said(f"Usage: {ASSIGN_USAGE}")
    ref, who = args[0], responder_named(settings, args[1])
    if who is None:
        return Said(f"{args[1]} is not linked to a responder.")
    commander = len(args) == 3
    try:
        if commander:
            record = case_work.set_commander(store, settings, ref, who, by=responder, via="slack")
        else:
            record = case_work.add_assignee(store, settings, ref, who, by=responder, via="slack")
    except CaseNotFound:
        return Said(f"There is no incident {ref}.")
    except (CaseInvalid, CaseConflict) as exc:
        return Said(f"Not assigned: {exc}")
    role = "commander" if commander else "assigned"
    return Said(f"{record.incident}: {who} {role} by {responder}.", in_channel=True)


def note(store: Store, settings: Settings, user: str, text: str) -> Said:
    """`text` is what follows `note` as typed (its words and spacing kept)."""
    responder = settings.slack.users.get(user)
    if responder is None:
        return Said(NOT_LINKED)
    parts = text.split(None, 1)
    if len(parts) < 2:
        return Said(f"Usage: {NOTE_USAGE}")
    ref, body = parts
    try:
        case_work.add_note(store, ref, body, author=responder, via="slack")
    except CaseNotFound:
        return Said(f"There is no incident {ref}.")
    except CaseInvalid as exc:
        return Said(f"Not added: {exc}")
    return Said(f"Note added to {ref} by {responder}.")


@dataclass(frozen=True)
class Capture:
    """What became of a channel message: the incident it was noted on, or why not."""

    incident: str | None = None
    tell: str | None = None


def capture_message(store: Store, settings: Settings, event: dict[str, Any]) -> Capture:
    """Keep a message posted in an incident's thread or channel as a note of it."""
    if (
        event.get("type") != "message"
        or event.get("subtype") not in _WRITTEN
        or event.get("bot_id")
    ):
        return Capture()
    channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
    text, thread = event.get("text"), event.get("thread_ts")
    if not all(isinstance(v, str) and v for v in (channel, ts, user, text)):
        return Capture()
    assert isinstance(channel, str) and isinstance(ts, str) and isinstance(user, str)
    assert isinstance(text, str)
    ref = _incident_of(store, settings, channel, thread if isinstance(thread, str) else None)
    if ref is None:
        return Capture()
    responder = settings.slack.users.get(user)
    if responder is None:
        return Capture(
            tell=f"{NOT_LINKED} Your message was not added to {ref}'s notes; an operator "
            f"can add `slack.users.{user}`."
        )
    try:
        case_work.add_note(
            store, ref, text, author=responder, via="slack", source_key=f"slack:{channel}:{ts}"
        )
    except CaseInvalid as exc:
        return Capture(tell=f"Your message was not added to {ref}'s notes: {exc}")
    except CaseNotFound:
        return Capture()
    return Capture(incident=ref)


def _incident_of(store: Store, settings: Settings, channel: str, thread: str | None) -> str | None:
    """The incident a message belongs to; a merged incident's notes go to its target."""
    with store.session() as session:
        found = None
        if thread is not None:
            found = session.scalars(
                select(Incident)
                .where(Incident.slack_channel == channel, Incident.slack_thread_ts == thread)
                .order_by(Incident.id.desc())
            ).first()
        if found is None and channel != settings.slack.triage_channel:
            found = session.scalars(
                select(Incident)
                .where(Incident.slack_channel == channel)
                .order_by(Incident.id.desc())
            ).first()
        if found is not None and found.merged_into_id is not None:
            found = session.get(Incident, found.merged_into_id)
        return case_work.ref_of(found) if found is not None else None
