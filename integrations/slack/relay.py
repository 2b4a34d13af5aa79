"""The Slack relay: one small workflow per incident that carries its timeline to Slack.

The incident's own workflow never waits for Slack. Its timeline activities signal this
relay (signal-with-start), which delivers the events in order with their own retry
policy; a Slack outage or rate limit delays the messages, never a containment step. It
keeps where the card and the approval messages were posted, so updates land in place.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from integrations.slack.messages import (
        RELAY_WORKFLOW,
        SIGNAL_TIMELINE,
        SLACK_DELIVER,
        RelayStart,
        SlackDelivery,
        SlackPosts,
    )
    from smokejumper.domain.incidents import TimelineEntry

_CONTINUE_AS_NEW_AFTER_EVENTS = 5_000
_SEEN_KEPT = 500


@workflow.defn(name=RELAY_WORKFLOW)
class SlackRelay:
    @workflow.init
    def __init__(self, start: RelayStart) -> None:
        self.posts = start.posts
        self.pending: list[TimelineEntry] = list(start.pending)
        self.seen: list[str] = list(start.seen)
        self.closed = False

    @workflow.run
    async def run(self, start: RelayStart) -> SlackPosts:
        while True:
            await workflow.wait_condition(lambda: bool(self.pending) or self.closed)
            if not self.pending:
                return self.posts
            entry = self.pending.pop(0)
            try:
                self.posts = await SLACK_DELIVER.execute(
                    SlackDelivery(entry=entry, posts=self.posts)
                )
            except ActivityError:
                # Given up on this event (logged by the activity); the next one re-renders
                # the card from the store, so nothing is lost for good but a thread reply.
                pass
            if entry.kind == "incident.status" and entry.data.get("to") == "closed":
                self.closed = True
            if workflow.info().get_current_history_length() > _CONTINUE_AS_NEW_AFTER_EVENTS:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    RelayStart(
                        incident_id=start.incident_id,
                        posts=self.posts,
                        pending=self.pending,
                        seen=self.seen[-_SEEN_KEPT:],
                    )
                )

    @workflow.signal(name=SIGNAL_TIMELINE)
    def timeline(self, entry: TimelineEntry) -> None:
        # The timeline activity signals again when it is retried: deliver each event once.
        if entry.event_key in self.seen:
            return
        self.seen.append(entry.event_key)
        self.pending.append(entry)
