"""The bare-Temporal floor: the same work with nothing of smokejumper in the way.

`python -m bench.floor TARGET QUEUE` runs a worker for the floor workflows.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Sequence
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker


@workflow.defn(name="bench-parked")
class ParkedWorkflow:
    """Waits for signals forever, like an open incident."""

    def __init__(self) -> None:
        self.signals = 0
        self.done = False

    @workflow.run
    async def run(self, _: str) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.signals

    @workflow.signal(name="alert")
    def alert(self, _: str) -> None:
        self.signals += 1

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True


@activity.defn(name="bench-noop")
async def noop(value: str) -> str:
    return value


@workflow.defn(name="bench-one-activity")
class OneActivityWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        result: str = await workflow.execute_activity(
            "bench-noop", value, start_to_close_timeout=timedelta(seconds=30)
        )
        return result


@workflow.defn(name="bench-signal-then-activity")
class SignalThenActivityWorkflow:
    """Parked until signalled, then one activity: an approval's bare equivalent."""

    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, value: str) -> str:
        await workflow.wait_condition(lambda: self.go)
        result: str = await workflow.execute_activity(
            "bench-noop", value, start_to_close_timeout=timedelta(seconds=30)
        )
        return result

    @workflow.signal(name="go")
    def signal_go(self) -> None:
        self.go = True


async def start_and_one_activity(client: Client, queue: str, count: int) -> list[float]:
    """Seconds from start to result of `count` sequential one-activity workflows."""
    latencies = []
    for n in range(count):
        started = time.perf_counter()
        await client.execute_workflow(
            "bench-one-activity", "x", id=f"floor-one-{n}", task_queue=queue
        )
        latencies.append(time.perf_counter() - started)
    return latencies


async def park(client: Client, queue: str, workflow_type: str, prefix: str, count: int) -> None:
    """Start `count` workflows that wait for a signal, 20 at a time."""
    pending = iter(range(count))

    async def starter() -> None:
        for n in pending:
            await client.start_workflow(workflow_type, "x", id=f"{prefix}-{n}", task_queue=queue)

    await asyncio.gather(*(starter() for _ in range(20)))


async def signal_round_trips(client: Client, prefix: str, count: int) -> list[float]:
    """Seconds from signal to the result of the activity it releases, one at a time."""
    latencies = []
    for n in range(count):
        handle = client.get_workflow_handle(f"{prefix}-{n}")
        started = time.perf_counter()
        await handle.signal("go")
        await handle.result()
        latencies.append(time.perf_counter() - started)
    return latencies


async def signal_with_start_throughput(
    client: Client, queue: str, total: int, ids: int, concurrency: int
) -> float:
    """Signal-with-start `total` times over `ids` workflow ids; operations per second."""
    counter = iter(range(total))

    async def sender() -> None:
        for n in counter:
            await client.start_workflow(
                "bench-parked",
                "x",
                id=f"floor-{n % ids}",
                task_queue=queue,
                start_signal="alert",
                start_signal_args=["a"],
            )

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    for n in range(ids):
        await client.get_workflow_handle(f"floor-{n}").signal("finish")
    return total / elapsed


async def _run_worker(target: str, queue: str) -> None:
    client = await Client.connect(target)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[ParkedWorkflow, OneActivityWorkflow, SignalThenActivityWorkflow],
        activities=[noop],
    ):
        await stop.wait()


def main(argv: Sequence[str]) -> None:
    target, queue = argv
    asyncio.run(_run_worker(target, queue))


if __name__ == "__main__":
    main(sys.argv[1:])
