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
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from integrations.keys.local import LocalKeys


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


@activity.defn(name="bench-revoke-local")
async def revoke_local(target: list[str]) -> None:
    """The same provider call the engine's revocation makes: a `local` key set inactive."""
    path, key_id = target
    await asyncio.to_thread(LocalKeys(Path(path)).revoke, key_id)


@workflow.defn(name="bench-one-revocation")
class OneRevocationWorkflow:
    @workflow.run
    async def run(self, target: list[str]) -> None:
        await workflow.execute_activity(
            "bench-revoke-local", target, start_to_close_timeout=timedelta(seconds=30)
        )


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
    return await signal_with_start_throughput_under(client, queue, "floor", total, ids, concurrency)


async def signal_with_start_throughput_under(
    client: Client, queue: str, prefix: str, total: int, ids: int, concurrency: int
) -> float:
    """`signal_with_start_throughput` over workflow ids `{prefix}-0…`: a floor measured
    more than once on one server starts fresh workflows each time, not closed ones."""
    counter = iter(range(total))

    async def sender() -> None:
        for n in counter:
            await client.start_workflow(
                "bench-parked",
                "x",
                id=f"{prefix}-{n % ids}",
                task_queue=queue,
                start_signal="alert",
                start_signal_args=["a"],
            )

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    for n in range(ids):
        await client.get_workflow_handle(f"{prefix}-{n}").signal("finish")
    return total / elapsed


async def _serve(
    target: str, queue: str, workflows: list[type], activities: list[Any], **options: Any
) -> None:
    """A bare worker until SIGINT or SIGTERM."""
    client = await Client.connect(target)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client, task_queue=queue, workflows=workflows, activities=activities, **options
    ):
        await stop.wait()


def main(argv: Sequence[str]) -> None:
    target, queue = argv
    asyncio.run(
        _serve(
            target,
            queue,
            [
                ParkedWorkflow,
                OneActivityWorkflow,
                OneRevocationWorkflow,
                SignalThenActivityWorkflow,
            ],
            [noop, revoke_local],
        )
    )


@activity.defn(name="bench-stamp")
async def stamp(built: float) -> dict[str, float]:
    """The moment this activity started (epoch seconds, this machine's clock), and when the
    workflow object that scheduled it was built (passed on by the workflow)."""
    return {"started": time.time(), "built": built}


@workflow.defn(name="bench-signal-then-stamp")
class SignalThenStampWorkflow:
    """Parked until signalled, then one activity that notes when it started: an approval's
    bare equivalent, timed to the same point as the engine's next step."""

    def __init__(self) -> None:
        self.go = False
        # The wall clock when this object was built: later than the signal means the worker
        # had evicted the workflow from its cache and rebuilt it from its history.
        with workflow.unsafe.sandbox_unrestricted():
            self.built = time.time()

    @workflow.run
    async def run(self, _: str) -> dict[str, float]:
        await workflow.wait_condition(lambda: self.go)
        result: dict[str, float] = await workflow.execute_activity(
            "bench-stamp", self.built, start_to_close_timeout=timedelta(seconds=30)
        )
        return result

    @workflow.signal(name="go")
    def signal_go(self) -> None:
        self.go = True


def serve_parked(argv: Sequence[str]) -> None:
    """A bare worker for `bench-signal-then-stamp` only (TARGET QUEUE MAX_CACHED): the
    floor of parked approvals, with the engine worker's workflow cache size."""
    target, queue, cached = argv
    asyncio.run(
        _serve(target, queue, [SignalThenStampWorkflow], [stamp], max_cached_workflows=int(cached))
    )


async def signal_until_started(client: Client, workflow_id: str) -> tuple[float, bool]:
    """Seconds from just before the `go` signal to the start of the activity it releases,
    and whether the workflow was replayed (evicted from the worker's cache) to run it."""
    handle = client.get_workflow_handle(workflow_id)
    sent = time.time()
    await handle.signal("go")
    result = await handle.result()
    return float(result["started"]) - sent, float(result["built"]) >= sent


if __name__ == "__main__":
    main(sys.argv[1:])
