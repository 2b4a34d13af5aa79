"""controls_check: 5,000 sequential `GET /api/v1/controls/check` calls on one keep-alive
connection, against `smokejumper api` as a child process.

The state (1,000 keys, 100 endpoints, some of them contained) is seeded in the control
plane's files before the API starts. Sequential on purpose: the number is the latency a
gateway adds to each request it serves, not the API's throughput.
Checks: every answer is 200 and the one the seeded state implies; a key revoked by this
process mid-run is denied by the next check.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import httpx

from bench.harness import Result, child, free_port, percentile, wait_for
from bench.http_load import Connection
from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from smokejumper.settings.temporal import TemporalSettings

TOTAL = 5_000
KEYS = 1_000
ENDPOINTS = 100
TOKEN = "bench-controls-token-0123456789"  # noqa: S105 - a throwaway credential for the run
TARGET_P99_MS = 5.0


def _revoked(n: int) -> bool:
    return n % 10 == 0


def _isolated(n: int) -> bool:
    return n % 7 == 0


def _seed(data: Path) -> tuple[LocalKeys, LocalEndpoints]:
    keys = LocalKeys(data / "keys.json")
    endpoints = LocalEndpoints(data / "endpoints.json")
    for n in range(KEYS):
        keys.create(f"sk-bench-{n}")
        if _revoked(n):
            keys.revoke(f"sk-bench-{n}")
    for n in range(ENDPOINTS):
        endpoints.create(f"endpoint-{n}")
        if _isolated(n):
            endpoints.isolate(f"endpoint-{n}", by="bench", reason="seeded")
    return keys, endpoints


async def _checks(port: int, keys: LocalKeys) -> tuple[list[float], int, int, bool]:
    connection = Connection("127.0.0.1", port, {"Authorization": f"Bearer {TOKEN}"})
    latencies: list[float] = []
    non_200 = wrong = 0
    try:
        for i in range(TOTAL):
            k, e = i % KEYS, i % ENDPOINTS
            path = (
                f"/api/v1/controls/check?key_id=sk-bench-{k}&endpoint=endpoint-{e}&principal=u{i}"
            )
            response = await connection.get(path)
            latencies.append(response.seconds)
            if response.status != 200:
                non_200 += 1
                continue
            revoked_mid_run = k == 1 and i >= TOTAL // 2
            expected = not (_revoked(k) or _isolated(e) or revoked_mid_run)
            if json.loads(response.body)["allowed"] is not expected:
                wrong += 1
            if i == TOTAL // 2 - 1:
                # Another process (this one) contains a key while the API is serving.
                await asyncio.to_thread(keys.revoke, "sk-bench-1")
        changed = await connection.get("/api/v1/controls/check?key_id=sk-bench-1")
        picked_up = changed.status == 200 and json.loads(changed.body)["allowed"] is False
    finally:
        await connection.close()
    return latencies, non_200, wrong, picked_up


def run(temporal: TemporalSettings, workdir: Path) -> list[Result]:
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    keys, _ = _seed(data)
    port = free_port()
    env = {
        **os.environ,
        "SMOKEJUMPER_DATA_DIR": str(data),
        "SMOKEJUMPER_DATABASE_URL": f"sqlite:///{data / 'smokejumper.db'}",
        "SMOKEJUMPER_LOG_LEVEL": "WARNING",
        "SMOKEJUMPER_API__PORT": str(port),
        "SMOKEJUMPER_API__CONTROLS_TOKEN": TOKEN,
        "SMOKEJUMPER_TEMPORAL__ADDRESS": temporal.target,
        "SMOKEJUMPER_TEMPORAL__TASK_QUEUE": "bench-controls",
    }
    api = f"http://127.0.0.1:{port}"
    with child(["-m", "cli", "api"], env, workdir / "api.log"):

        def serving() -> bool:
            try:
                httpx.get(f"{api}/healthz", timeout=2)
            except httpx.HTTPError:
                return False
            return True

        wait_for(serving, 60, "smokejumper API")
        started = time.perf_counter()
        latencies, non_200, wrong, picked_up = asyncio.run(_checks(port, keys))
        elapsed = time.perf_counter() - started

    p50 = percentile(latencies, 50) * 1000
    p99 = percentile(latencies, 99) * 1000
    exact = non_200 == 0 and wrong == 0 and picked_up
    return [
        Result(
            name="controls_check",
            value=round(p99, 3),
            unit="ms",
            floor=None,
            ratio=None,
            target=f"p99 < {TARGET_P99_MS:g} ms; every answer right; a mid-run revoke seen",
            ok=exact and p99 < TARGET_P99_MS,
            detail={
                "p50_ms": round(p50, 3),
                "p99_ms": round(p99, 3),
                "max_ms": round(max(latencies) * 1000, 3),
                "checks": len(latencies),
                "checks_per_s": round(len(latencies) / elapsed, 1),
                "non_200": non_200,
                "wrong_answers": wrong,
                "mid_run_revoke_seen": picked_up,
            },
        )
    ]
