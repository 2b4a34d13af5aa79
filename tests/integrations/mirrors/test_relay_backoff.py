"""An idle mirror relay polls less and less often, and a poke brings it back at once: one
relay per incident and tool polling every few seconds until the incident closes would cost
hundreds of activities a second at a thousand open incidents."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from integrations.mirrors.messages import (
    SIGNAL_POKE,
    MirrorBatch,
    MirrorProgress,
    MirrorStart,
)
from integrations.mirrors.relay import MirrorRelay
from workers.worker import sandboxed_runner


class Tool:
    """The delivery activity, counting its calls; `entries` new rows wait to be delivered."""

    def __init__(self) -> None:
        self.calls = 0
        self.entries = 0

    @activity.defn(name="mirror_deliver")
    async def deliver(self, batch: MirrorBatch) -> MirrorProgress:
        self.calls += 1
        cursor, self.entries = batch.cursor + self.entries, 0
        return MirrorProgress(cursor=cursor)


async def test_an_idle_relay_backs_off_and_a_poke_or_a_delivery_resets_it(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    tool = Tool()
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[MirrorRelay],
        activities=[tool.deliver],
        workflow_runner=sandboxed_runner(),
    ):
        handle = await time_skipping_env.client.start_workflow(
            MirrorRelay.run,
            MirrorStart(incident_id=1, system="jira", poll_seconds=10),
            id=f"mirror-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        await time_skipping_env.sleep(timedelta(hours=1))
        # Every 10 s would be 360 deliveries; backing off to 320 s apart, about 16.
        idle_hour = tool.calls
        assert 8 <= idle_hour <= 25, idle_hour

        await handle.signal(SIGNAL_POKE)
        await time_skipping_env.sleep(timedelta(seconds=35))
        # The poke delivered at once, and the period is back to 10, 20 s.
        assert tool.calls >= idle_hour + 3, (idle_hour, tool.calls)

        await time_skipping_env.sleep(timedelta(hours=1))
        before = tool.calls
        tool.entries = 2  # a note added in the console: found by the next poll
        await time_skipping_env.sleep(timedelta(seconds=390))
        # Idle, 390 s hold one or two polls; found and delivered, the period is back to
        # 10 s and doubles from there: four or more.
        assert tool.calls - before >= 4, (before, tool.calls)
        await handle.terminate()
