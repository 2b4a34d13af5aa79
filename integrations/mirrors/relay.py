"""The mirror relay: one small workflow per incident and tool that carries the incident's
timeline there.

Like the Slack relay, the incident's own workflow never waits for it: timeline activities
poke it (signal-with-start) and it delivers with its own retry policy, so a tool's outage
delays that tool's copy only. Unlike Slack's, it reads the timeline from the store after a
cursor rather than from the signals, so entries no activity announces (a note added in
the console, a change made in another tool) reach it too, at the next poke or poll.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from integrations.mirrors.messages import (
        MIRROR_DELIVER,
        MIRROR_RELAY_WORKFLOW,
        SIGNAL_POKE,
        MirrorBatch,
        MirrorStart,
    )

_CONTINUE_AS_NEW_AFTER_EVENTS = 2_000
# An idle relay polls less and less often (up to this many poll periods apart): one per
# incident and tool, each polling every few seconds until its incident closes, would
# cost hundreds of activities a second at a thousand open incidents. A poke, or anything
# delivered, brings it back to the configured period.
_IDLE_BACKOFF_LIMIT = 32


@workflow.defn(name=MIRROR_RELAY_WORKFLOW)
class MirrorRelay:
    @workflow.init
    def __init__(self, start: MirrorStart) -> None:
        self.poked = True

    @workflow.run
    async def run(self, start: MirrorStart) -> int:
        cursor = start.cursor
        idle = 0
        while True:
            self.poked = False
            progress = await MIRROR_DELIVER.execute(
                MirrorBatch(incident_id=start.incident_id, system=start.system, cursor=cursor)
            )
            if progress.cursor != cursor:
                idle = 0
            cursor = progress.cursor
            if progress.closed:
                return cursor
            if progress.more:
                continue
            if workflow.info().get_current_history_length() > _CONTINUE_AS_NEW_AFTER_EVENTS:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(start.model_copy(update={"cursor": cursor}))
            backoff = min(2**idle, _IDLE_BACKOFF_LIMIT)
            try:
                await workflow.wait_condition(
                    lambda: self.poked, timeout=timedelta(seconds=start.poll_seconds * backoff)
                )
                idle = 0
            except TimeoutError:
                idle += 1  # The poll found entries no activity announced, or nothing.

    @workflow.signal(name=SIGNAL_POKE)
    def poke(self) -> None:
        self.poked = True
