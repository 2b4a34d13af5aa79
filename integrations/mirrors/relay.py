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


@workflow.defn(name=MIRROR_RELAY_WORKFLOW)
class MirrorRelay:
    @workflow.init
    def __init__(self, start: MirrorStart) -> None:
        self.poked = True

    @workflow.run
    async def run(self, start: MirrorStart) -> int:
        cursor = start.cursor
        while True:
            self.poked = False
            progress = await MIRROR_DELIVER.execute(
                MirrorBatch(incident_id=start.incident_id, system=start.system, cursor=cursor)
            )
            cursor = progress.cursor
            if progress.closed:
                return cursor
            if progress.more:
                continue
            if workflow.info().get_current_history_length() > _CONTINUE_AS_NEW_AFTER_EVENTS:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(start.model_copy(update={"cursor": cursor}))
            try:
                await workflow.wait_condition(
                    lambda: self.poked, timeout=timedelta(seconds=start.poll_seconds)
                )
            except TimeoutError:
                pass  # The poll: entries no activity announced.

    @workflow.signal(name=SIGNAL_POKE)
    def poke(self) -> None:
        self.poked = True
