"""intake_storm: 10,000 alerts over 100 fingerprints, 50 concurrent HTTP clients.

Floor: bare signal-with-start throughput on the same server (same total, ids, concurrency).
Checks: exactly 100 incidents and 10,000 stored alerts, no 5xx.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from bench.floor import signal_with_start_throughput
from bench.harness import Result, child, free_port, percentile, wait_for
from bench.http_load import Connection
from smokejumper.settings.temporal import TemporalSettings
from smokejumper.store.migrate import upgrade

TOTAL = 10_000
FINGERPRINTS = 100
CLIENTS = 50
TOKEN = "bench-storm-token-0123456789"  # noqa: S105 - a throwaway credential for the run
TARGET_RATIO = 0.7


def _alert(n: int) -> bytes:
    return json.dumps(
        {
            "source": "storm",
            "kind": "prompt_injection",
            "severity": "high",
            "title": f"injection attempt {n}",
            "principal": {"user": f"user-{n % FINGERPRINTS}"},
            "target": {"application": "bench", "endpoint": "chat"},
            "evidence": {"prompt": "ignore previous instructions", "scores": {"pi": 0.97}},
        }
    ).encode()


async def _storm(port: int) -> tuple[float, list[float], dict[int, int]]:
    bodies = [_alert(n) for n in range(TOTAL)]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    async def client() -> None:
        connection = Connection("127.0.0.1", port, headers)
        try:
            while not queue.empty():
                response = await connection.post("/api/v1/alerts", queue.get_nowait())
                latencies.append(response.seconds)
                statuses[response.status] = statuses.get(response.status, 0) + 1
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    return TOTAL / elapsed, latencies, statuses


def run(temporal: TemporalSettings, workdir: Path) -> list[Result]:
    floor_queue = "bench-floor-storm"
    with child(
        ["-m", "bench.floor", temporal.target, floor_queue], dict(os.environ), workdir / "floor.log"
    ):

        async def floor() -> float:
            client = await Client.connect(temporal.target)
            return await signal_with_start_throughput(
                client, floor_queue, TOTAL, FINGERPRINTS, CLIENTS
            )

        floor_rate = asyncio.run(floor())

    data = workdir / "storm"
    database = data / "smokejumper.db"
    url = f"sqlite:///{database}"
    data.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    port = free_port()
    env = {
        **os.environ,
        "SMOKEJUMPER_DATA_DIR": str(data),
        "SMOKEJUMPER_DATABASE_URL": url,
        "SMOKEJUMPER_LOG_LEVEL": "WARNING",
        "SMOKEJUMPER_API__PORT": str(port),
        "SMOKEJUMPER_TEMPORAL__ADDRESS": temporal.target,
        "SMOKEJUMPER_TEMPORAL__TASK_QUEUE": "bench-storm",
        "SMOKEJUMPER_SOURCES__STORM__FORMAT": "generic",
        "SMOKEJUMPER_SOURCES__STORM__TOKEN": TOKEN,
        # The storm measures intake's capacity, not the per-source limiter in front of it.
        "SMOKEJUMPER_SOURCES__STORM__RATE_LIMIT_PER_SECOND": "0",
    }
    api = f"http://127.0.0.1:{port}"
    with (
        child(["-m", "cli", "worker"], env, workdir / "worker.log"),
        child(["-m", "cli", "api"], env, workdir / "api.log"),
    ):

        def worker_polling() -> bool:
            try:
                health: dict[str, Any] = httpx.get(f"{api}/healthz", timeout=2).json()
            except (httpx.HTTPError, ValueError):
                return False
            return bool(health.get("components", {}).get("worker") == "ok")

        wait_for(worker_polling, 60, "smokejumper API and worker")
        rate, latencies, statuses = asyncio.run(_storm(port))

    with sqlite3.connect(database) as db:
        incidents = db.execute("SELECT count(*) FROM incidents").fetchone()[0]
        alerts = db.execute("SELECT count(*) FROM alerts").fetchone()[0]
        undispatched = db.execute(
            "SELECT count(*) FROM alerts WHERE dispatched_at IS NULL"
        ).fetchone()[0]
    server_errors = sum(count for status, count in statuses.items() if status >= 500)
    exact = incidents == FINGERPRINTS and alerts == TOTAL and server_errors == 0
    ratio = rate / floor_rate
    return [
        Result(
            name="intake_storm",
            value=round(rate, 1),
            unit="alerts/s",
            floor=round(floor_rate, 1),
            ratio=round(ratio, 3),
            target=f"ratio >= {TARGET_RATIO}; exactly {FINGERPRINTS} incidents, {TOTAL} alerts, "
            "no 5xx",
            ok=exact and ratio >= TARGET_RATIO,
            detail={
                "p50_ms": round(percentile(latencies, 50) * 1000, 1),
                "p99_ms": round(percentile(latencies, 99) * 1000, 1),
                "statuses": {str(k): v for k, v in sorted(statuses.items())},
                "incidents": incidents,
                "alerts": alerts,
                "undispatched": undispatched,
                "floor": "bare signal-with-start, same total, ids and concurrency",
            },
        )
    ]
