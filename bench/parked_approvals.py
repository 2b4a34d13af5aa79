"""parked_approvals: 1,000 incidents waiting on an approval in one worker.

Each alert opens an incident whose playbook revokes the `local` key it names, then asks for
approval to isolate the endpoint. With all 1,000 parked: the worker's resident memory, then
100 approvals one at a time, each timed from just before the HTTP approve to the moment the
isolation (the step the approval released) completed at the provider.
Floor, same server: 1,000 bare workflows parked on a signal in one bare worker (its RSS),
and the bare round trip signal -> one activity -> result.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from urllib.parse import quote

from temporalio.client import Client

from bench.containment import (
    SOURCE,
    TOKEN,
    Actions,
    alert,
    connection,
    seed,
    timed_until_completed,
)
from bench.floor import park, signal_round_trips
from bench.harness import (
    Result,
    child,
    engine_env,
    free_port,
    p50_against_floor,
    rss_mb,
    wait_for,
    wait_for_worker,
)
from bench.http_load import Connection
from bench.playbooks.containment import APPROVER
from smokejumper.settings.temporal import TemporalSettings

PARKED = 1_000
APPROVALS = 100
SENDERS = 10
TARGET_RSS_MB = 250.0
TARGET_RATIO = 1.5
STEP = "isolate endpoint"


async def _open(port: int, names: list[str]) -> dict[str, str]:
    """Send one alert per name; the incident id of each."""
    pending = iter(names)
    incidents: dict[str, str] = {}

    async def sender() -> None:
        http = connection(port)
        try:
            for name in pending:
                response = await http.post(
                    f"/api/v1/alerts/{SOURCE}", alert("model_extraction", name)
                )
                if response.status == 202:
                    incidents[name] = json.loads(response.body)["incident_id"]
        finally:
            await http.close()

    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    return incidents


async def _approve(
    port: int, operator: str, actions: Actions, incidents: dict[str, str], names: list[str]
) -> tuple[list[float], int]:
    http = Connection(
        "127.0.0.1",
        port,
        {"Authorization": f"Bearer {operator}", "Content-Type": "application/json"},
    )
    posts = (
        (
            f"/api/v1/incidents/{incidents[name]}/approvals/{quote(STEP)}",
            b'{"approve": true, "reason": "bench"}',
            name,
        )
        for name in names
    )
    return await timed_until_completed(http, posts, actions, "isolate_endpoint", 200)


def _floor(temporal: TemporalSettings, workdir: Path) -> tuple[float, list[float]]:
    """A bare worker's RSS with as many workflows parked, and its signal round trips."""
    floor_queue = "bench-floor-parked"
    with child(
        ["-m", "bench.floor", temporal.target, floor_queue], dict(os.environ), workdir / "floor.log"
    ) as floor_worker:
        floor_rss = 0.0

        async def measured() -> list[float]:
            nonlocal floor_rss
            client = await Client.connect(temporal.target)
            await park(client, floor_queue, "bench-signal-then-activity", "floor-park", PARKED)
            # Time for the worker to run every first workflow task and cache the workflows.
            await asyncio.sleep(2)
            floor_rss = rss_mb(floor_worker.pid)
            return await signal_round_trips(client, "floor-park", APPROVALS)

        floor_latencies = asyncio.run(measured())
    return floor_rss, floor_latencies


def run(temporal: TemporalSettings, workdir: Path) -> list[Result]:
    floor_rss, floor_latencies = _floor(temporal, workdir)

    data = workdir / "data"
    names = [f"park-{n}" for n in range(PARKED)]
    port = free_port()
    env = engine_env(
        data,
        port,
        temporal,
        "bench-parked",
        sources__bench__format="generic",
        sources__bench__token=TOKEN,
        sources__bench__rate_limit_per_second="0",
        operator=APPROVER,
    )
    seed(data, names, endpoints=True)
    actions = Actions(data)
    with (
        child(["-m", "cli", "worker"], env, workdir / "worker.log") as worker,
        child(["-m", "cli", "api"], env, workdir / "api.log"),
    ):
        wait_for_worker(f"http://127.0.0.1:{port}")
        idle_rss = rss_mb(worker.pid)
        opened = time.perf_counter()
        incidents = asyncio.run(_open(port, names))

        def all_parked() -> bool:
            return (
                actions.count(
                    "SELECT count(*) FROM timeline_events WHERE kind = 'approval.requested'"
                )
                >= PARKED
            )

        wait_for(all_parked, 600, f"{PARKED} pending approvals")
        parked_in = time.perf_counter() - opened
        time.sleep(2)
        rss = rss_mb(worker.pid)
        operator = (data / "operator.token").read_text().strip()
        latencies, refused = asyncio.run(
            _approve(port, operator, actions, incidents, names[:APPROVALS])
        )
        rss_after = rss_mb(worker.pid)
    revoked = actions.count(
        "SELECT count(*) FROM actions WHERE action = 'revoke_key' AND status = 'completed'"
    )
    actions.close()

    exact = len(incidents) == PARKED and revoked == PARKED and refused == 0
    detail = {
        "worker_rss_mb": round(rss, 1),
        "worker_rss_idle_mb": round(idle_rss, 1),
        "worker_rss_after_approvals_mb": round(rss_after, 1),
        "floor_worker_rss_mb": round(floor_rss, 1),
        "rss_ratio": round(rss / floor_rss, 2),
        "parked_in_s": round(parked_in, 1),
        "keys_revoked": revoked,
        "floor": f"{PARKED} bare workflows parked on a signal; signal -> one activity -> result",
    }
    return [
        Result(
            name="parked_approvals_rss",
            value=round(rss, 1),
            unit="MB",
            floor=round(floor_rss, 1),
            ratio=round(rss / floor_rss, 2),
            target=f"worker RSS <= {TARGET_RSS_MB:g} MB with {PARKED} parked approvals",
            ok=exact and rss <= TARGET_RSS_MB,
            detail=detail,
        ),
        p50_against_floor(
            "parked_approvals",
            latencies,
            floor_latencies,
            target_ratio=TARGET_RATIO,
            target=f"approve -> next step p50 ratio <= {TARGET_RATIO} to a bare signal round trip",
            exact=exact,
            detail={"approvals": len(latencies), "refused": refused},
        ),
    ]
