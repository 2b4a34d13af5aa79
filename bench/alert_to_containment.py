"""alert_to_containment: HTTP alert accepted -> first containment activity completed.

200 sequential alerts, each its own incident, each routed to a playbook whose first step
revokes the `local` key the alert names (no approval on that step). Latency: from just
before the POST to the moment the `actions` row of the revocation is completed.
Floor: a bare workflow start + one activity + result, sequentially, on the same server.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from temporalio.client import Client

from bench.containment import (
    SOURCE,
    TOKEN,
    Actions,
    alert,
    connection,
    seed,
    segments,
    timed_until_completed,
)
from bench.floor import start_and_one_activity
from bench.harness import (
    Result,
    child,
    engine_env,
    free_port,
    p50_against_floor,
    percentile,
    wait_for_worker,
)
from smokejumper.settings.temporal import TemporalSettings

COUNT = 200
WARMUP = 10
TARGET_RATIO = 1.5


async def _alerts(port: int, actions: Actions, names: list[str]) -> tuple[list[float], int]:
    posts = ((f"/api/v1/alerts/{SOURCE}", alert("data_leakage", name), name) for name in names)
    return await timed_until_completed(connection(port), posts, actions, "revoke_key", 202)


def run(temporal: TemporalSettings, workdir: Path) -> list[Result]:
    floor_queue = "bench-floor-containment"
    with child(
        ["-m", "bench.floor", temporal.target, floor_queue], dict(os.environ), workdir / "floor.log"
    ):

        async def floor() -> list[float]:
            client = await Client.connect(temporal.target)
            await start_and_one_activity(client, floor_queue, WARMUP)
            return await start_and_one_activity(client, floor_queue, COUNT)

        floor_latencies = asyncio.run(floor())

    data = workdir / "data"
    names = [f"leak-{n}" for n in range(WARMUP + COUNT)]
    port = free_port()
    env = engine_env(
        data,
        port,
        temporal,
        "bench-containment",
        sources__bench__format="generic",
        sources__bench__token=TOKEN,
        sources__bench__rate_limit_per_second="0",
    )
    seed(data, names)
    actions = Actions(data)
    with (
        child(["-m", "cli", "worker"], env, workdir / "worker.log"),
        child(["-m", "cli", "api"], env, workdir / "api.log"),
    ):
        wait_for_worker(f"http://127.0.0.1:{port}")
        asyncio.run(_alerts(port, actions, names[:WARMUP]))
        latencies, refused = asyncio.run(_alerts(port, actions, names[WARMUP:]))
    revoked = actions.count(
        "SELECT count(*) FROM actions WHERE action = 'revoke_key' AND status = 'completed'"
    )
    stretches = segments(actions)
    actions.close()

    return [
        p50_against_floor(
            "alert_to_containment",
            latencies,
            floor_latencies,
            target_ratio=TARGET_RATIO,
            target=f"p50 ratio <= {TARGET_RATIO}; every alert accepted, every key revoked once",
            exact=refused == 0 and revoked == WARMUP + COUNT,
            detail={
                "p99_ratio": round(percentile(latencies, 99) / percentile(floor_latencies, 99), 2),
                "incidents": COUNT,
                "refused": refused,
                "keys_revoked": revoked,
                "median_stretches": stretches,
                "floor": "bare workflow start + one activity + result, sequential, same server",
            },
        )
    ]
