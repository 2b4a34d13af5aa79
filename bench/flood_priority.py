"""flood_priority: a critical leak during a flood of low-severity incidents.

2,000 low-severity data-leak alerts (a noisy DLP scanner: nothing in them the detectors
recognise, so each runs `sensitive-data-leakage` to its "confirm a false positive" notice)
are posted in a burst by 50 clients, each its own incident. The moment the last is
accepted, critical leaks whose model output holds an inventory key are posted, one after
another, five of them, each its own incident (the flood is far from drained by the last).
Measured: for each, from just before its POST until its key is seen inactive at its
provider; the figure is their median, as the floor's is.

Floor: the same critical alert on the same engine while it is idle (the median of five,
before the flood). Target: within 3x the idle time. Without the urgent queue, a critical
incident's tasks wait behind the flood's for the worker's slots.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from statistics import median

from bench.containment import connection, key_inventory, leak, leak_engine, wait_revoked
from bench.harness import (
    Result,
    count,
    database,
    ms,
)
from integrations.keys.local import LocalKeys
from smokejumper.settings.temporal import TemporalSettings

FLOOD = 2_000
CLIENTS = 50
IDLE_RUNS = 5
FLOODED_RUNS = 5
TARGET_RATIO = 3.0
SOURCE = "bench"
KEYS = IDLE_RUNS + FLOODED_RUNS


def _key_id(n: int) -> str:
    return f"flood-key-{n}"


def _inventory() -> dict[str, object]:
    return key_inventory([(_key_id(n), f"sjf{n:03d}_") for n in range(KEYS)])


def _critical(n: int) -> bytes:
    return leak(
        f"Service key in bench-app output ({n})",
        "critical",
        f"critical-user-{n}",
        f"The key is sjf{n:03d}_{'5e1d0c4b' * 3}.",
    )


def _noise(n: int) -> bytes:
    """Nothing in it the detectors recognise: the playbook ends at its false-positive
    notice."""
    return leak(
        f"Possible leak in bench-app output ({n})",
        "low",
        f"noisy-user-{n}",
        "Nothing to see here.",
        prompt="Summarise the ticket",
    )


async def _critical_revoked(port: int, keys: LocalKeys, n: int) -> float:
    http = connection(port)
    try:
        started = time.perf_counter()
        response = await http.post(f"/api/v1/alerts/{SOURCE}", _critical(n))
        if response.status != 202:
            raise RuntimeError(f"the critical alert was answered {response.status}")
        await wait_revoked(keys, _key_id(n), within=600)
        return time.perf_counter() - started
    finally:
        await http.close()


async def _flood(port: int) -> dict[int, int]:
    pending = iter(range(FLOOD))
    statuses: dict[int, int] = {}

    async def sender() -> None:
        http = connection(port)
        try:
            for n in pending:
                response = await http.post(f"/api/v1/alerts/{SOURCE}", _noise(n))
                statuses[response.status] = statuses.get(response.status, 0) + 1
        finally:
            await http.close()

    await asyncio.gather(*(sender() for _ in range(CLIENTS)))
    return statuses


async def _run(
    port: int, keys: LocalKeys
) -> tuple[list[float], list[float], dict[int, int], float]:
    idle = [await _critical_revoked(port, keys, n) for n in range(IDLE_RUNS)]
    burst_started = time.perf_counter()
    statuses = await _flood(port)
    burst = time.perf_counter() - burst_started
    flooded = [await _critical_revoked(port, keys, n) for n in range(IDLE_RUNS, KEYS)]
    return idle, flooded, statuses, burst


def run(temporal: TemporalSettings, workdir: Path) -> list[Result]:
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    keys = LocalKeys(data / "keys.json")
    for n in range(KEYS):
        keys.create(_key_id(n))
    with database("sqlite", data) as url:
        with leak_engine(data, url, temporal, "bench-flood", _inventory(), workdir) as port:
            idle, flooded, statuses, burst = asyncio.run(_run(port, keys))
            # How much of the flood was still to run when the critical key was revoked.
            unfinished = (
                FLOOD
                + KEYS
                - count(
                    url, "SELECT count(*) FROM timeline_events WHERE kind = 'playbook.finished'"
                )
            )
        incidents = count(url, "SELECT count(*) FROM incidents")
    idle_p50 = median(idle)
    flooded_p50 = median(flooded)
    ratio = flooded_p50 / idle_p50
    accepted = statuses.get(202, 0)
    exact = accepted == FLOOD and incidents == FLOOD + KEYS
    return [
        Result(
            name="flood_priority",
            value=ms(flooded_p50),
            unit="ms",
            floor=ms(idle_p50),
            ratio=round(ratio, 2),
            target=f"critical leaks' keys revoked within {TARGET_RATIO:g}x the idle time "
            f"(medians of {FLOODED_RUNS} and {IDLE_RUNS}), right after a burst of {FLOOD} "
            "low-severity incidents; every alert accepted",
            ok=exact and ratio <= TARGET_RATIO,
            detail={
                "idle_ms": [ms(value) for value in idle],
                "flooded_ms": [ms(value) for value in flooded],
                "flooded_max_ratio": round(max(flooded) / idle_p50, 2),
                "burst_seconds": round(burst, 1),
                "flood_statuses": {str(k): v for k, v in sorted(statuses.items())},
                "incidents": incidents,
                "flood_unfinished_when_revoked": unfinished,
                "floor": "the same critical alert on the same engine while idle (median of "
                f"{IDLE_RUNS})",
            },
        )
    ]
