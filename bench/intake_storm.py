"""intake_storm: 10,000 alerts over 100 fingerprints, 50 concurrent HTTP clients, on each
store (SQLite, PostgreSQL), with the default duplicate-signal window and with it set to 0.

Rows: `intake_storm_<db>` (duplicates of a running incident coalesced into one signal per
window: fewer signals than alerts) and `intake_storm_<db>_window0`
(`intake.duplicate_signal_window_seconds = 0`: one signal, or signal-with-start, per alert
before the sender is answered; like for like with the floor).

Floor: bare signal-with-start throughput on the same dev server (same total, ids and
concurrency, one per alert; `bench.floor`), measured right before each row, so a row and
its floor see the same machine load and the same dev-server history (both grow as the
run goes on). Each row gets a fresh database, fresh worker and API children, its own task
queue, and alerts whose fingerprints are the row's own (incident workflow ids never meet
another row's).
Checks: exactly 100 incidents and 10,000 stored alerts, no 5xx, no alert left undispatched
once the API has stopped (it delivers waiting duplicates and confirmations as it stops).

Each row is PAIRS floor-then-ours pairs, interleaved: a single pair's ratio swings by about
±0.1 on a shared two-core machine. The row's ratio is the median of its pairs' ratios (each
pair's is in `pair_ratios`); its rates are the medians of each side; it is `ok` only if
every pair's counts are exact.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from temporalio.client import Client

from bench.floor import signal_with_start_throughput_under
from bench.harness import (
    DATABASES,
    Result,
    child,
    count,
    database,
    engine_env,
    free_port,
    percentile,
    wait_for_worker,
)
from bench.http_load import Connection
from smokejumper.settings.intake import IntakeSettings
from smokejumper.settings.temporal import TemporalSettings

TOTAL = 10_000
FINGERPRINTS = 100
CLIENTS = 50
TOKEN = "bench-storm-token-0123456789"  # noqa: S105 - a throwaway credential for the run
TARGET_RATIO = 1.0  # default window: duplicates coalesced
TARGET_RATIO_WINDOW0 = 0.8  # one signal per alert, like the floor
PAIRS = 3


def _alert(n: int, tag: str) -> bytes:
    return json.dumps(
        {
            "source": "storm",
            "kind": "prompt_injection",
            "severity": "high",
            "title": f"injection attempt {n}",
            # The row's tag in the principal: its own fingerprints, so its own workflow ids.
            "principal": {"user": f"{tag}-user-{n % FINGERPRINTS}"},
            "target": {"application": "bench", "endpoint": "chat"},
            "evidence": {"prompt": "ignore previous instructions", "scores": {"pi": 0.97}},
        }
    ).encode()


async def _storm(port: int, tag: str) -> tuple[float, list[float], dict[int, int]]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for n in range(TOTAL):
        queue.put_nowait(_alert(n, tag))
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


def _floor(temporal: TemporalSettings, workdir: Path, tag: str) -> float:
    """Signal-with-start per alert against a bare worker, ids of this measurement's own."""
    queue = f"bench-floor-storm-{tag}"
    with child(
        ["-m", "bench.floor", temporal.target, queue], dict(os.environ), workdir / "floor.log"
    ):

        async def measure() -> float:
            client = await Client.connect(temporal.target)
            return await signal_with_start_throughput_under(
                client, queue, f"floor-{tag}", TOTAL, FINGERPRINTS, CLIENTS
            )

        return asyncio.run(measure())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Storm:
    rate: float
    latencies: list[float]
    statuses: dict[int, int]
    incidents: int
    alerts: int
    undispatched: int
    cpu: dict[str, float]
    # The API's own account of alerts it stored but could not signal or confirm (the
    # outbox's work): where an undispatched count comes from.
    dispatch_warnings: dict[str, int]


def _ours(
    temporal: TemporalSettings,
    workdir: Path,
    kind: str,
    window0: bool,
    tag: str,
    synchronous: str = "full",
) -> Storm:
    port = free_port()
    extra = {
        "sqlite_synchronous": synchronous,
        "sources__storm__format": "generic",
        "sources__storm__token": TOKEN,
        # The storm measures intake's capacity, not the per-source limiter in front of it.
        "sources__storm__rate_limit_per_second": "0",
    }
    if window0:
        extra["intake__duplicate_signal_window_seconds"] = "0"
    with database(kind, workdir / "data") as url:
        env = engine_env(workdir / "data", port, temporal, f"bench-storm-{tag}", url=url, **extra)
        with (
            child(["-m", "cli", "worker"], env, workdir / "worker.log") as worker,
            child(["-m", "cli", "api"], env, workdir / "api.log") as api,
        ):
            wait_for_worker(f"http://127.0.0.1:{port}")
            before = [_cpu_seconds(worker.pid), _cpu_seconds(api.pid), time.process_time()]
            busy_before = _machine_busy()
            rate, latencies, statuses = asyncio.run(_storm(port, tag))
            busy_after = _machine_busy()
            after = [_cpu_seconds(worker.pid), _cpu_seconds(api.pid), time.process_time()]
        # Where the storm's CPU went: the API, the worker, this process (the HTTP clients)
        # and the share of the whole machine busy meanwhile (dev server, database, others).
        spent = [round(b - a, 1) for a, b in zip(before, after, strict=True)]
        cpu = {
            "api_cpu_s": spent[1],
            "worker_cpu_s": spent[0],
            "clients_cpu_s": spent[2],
            "machine_busy": round(
                (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]), 2
            ),
        }
        # Counted once the API has stopped: it flushes waiting duplicates and dispatch
        # confirmations on the way out.
        return Storm(
            rate,
            latencies,
            statuses,
            incidents=count(url, "SELECT count(*) FROM incidents"),
            alerts=count(url, "SELECT count(*) FROM alerts"),
            undispatched=count(url, "SELECT count(*) FROM alerts WHERE dispatched_at IS NULL"),
            cpu=cpu,
            dispatch_warnings=_dispatch_warnings(workdir / "api.log"),
        )


def _dispatch_warnings(log: Path) -> dict[str, int]:
    text = log.read_text(encoding="utf-8", errors="replace")
    return {
        "not_yet_dispatched": text.count("stored but not yet dispatched"),
        "confirmations_failed": text.count("could not record dispatch confirmations"),
    }


def _exact(storm: Storm) -> bool:
    server_errors = sum(n for status, n in storm.statuses.items() if status >= 500)
    return (
        storm.incidents == FINGERPRINTS
        and storm.alerts == TOTAL
        and server_errors == 0
        and storm.undispatched == 0
    )


def _row(kind: str, window0: bool, pairs: list[tuple[float, Storm]]) -> Result:
    """The row of PAIRS (floor rate, storm) pairs: medians, and each pair's ratio; the
    detail of counts and CPU is the median pair's."""
    name = f"intake_storm_{kind}" + ("_window0" if window0 else "")
    target_ratio = TARGET_RATIO_WINDOW0 if window0 else TARGET_RATIO
    ratios = [ours.rate / floor_rate for floor_rate, ours in pairs]
    ratio = median(ratios)
    _, storm = sorted(pairs, key=lambda pair: pair[1].rate / pair[0])[len(pairs) // 2]
    return Result(
        name=name,
        value=round(median(ours.rate for _, ours in pairs), 1),
        unit="alerts/s",
        floor=round(median(floor_rate for floor_rate, _ in pairs), 1),
        ratio=round(ratio, 3),
        target=f"median ratio of {len(pairs)} pairs >= {target_ratio}; exactly "
        f"{FINGERPRINTS} incidents, {TOTAL} alerts; no 5xx; 0 undispatched",
        ok=all(_exact(ours) for _, ours in pairs) and ratio >= target_ratio,
        detail={
            "database": kind,
            "duplicate_signal_window_seconds": (
                0 if window0 else IntakeSettings().duplicate_signal_window_seconds
            ),
            "pair_ratios": [round(r, 3) for r in ratios],
            "pairs_exact": [_exact(ours) for _, ours in pairs],
            "p50_ms": round(percentile(storm.latencies, 50) * 1000, 1),
            "p99_ms": round(percentile(storm.latencies, 99) * 1000, 1),
            "statuses": {str(k): v for k, v in sorted(storm.statuses.items())},
            "incidents": storm.incidents,
            "alerts": storm.alerts,
            "undispatched": storm.undispatched,
            "storm_s": round(TOTAL / storm.rate, 1),
            "api_dispatch_warnings": storm.dispatch_warnings,
            **storm.cpu,
            "floor": "bare signal-with-start per alert, same total, ids and concurrency, "
            "same dev server, measured right before each of our storms",
        },
    )


def _durability(temporal: TemporalSettings, workdir: Path, full: Storm) -> dict[str, float]:
    """What 202-means-durable costs: the same SQLite storm with `sqlite_synchronous =
    "normal"` (commits synced at checkpoints only), right after the default one."""
    tag = f"sqlite-normal-{uuid.uuid4().hex[:6]}"
    normal = _ours(temporal, workdir / "sqlite_normal", "sqlite", False, tag, "normal")
    return {
        "synchronous_normal_alerts_per_s": round(normal.rate, 1),
        "synchronous_full_to_normal": round(full.rate / normal.rate, 3),
    }


def run(temporal: TemporalSettings, workdir: Path) -> list[Result]:
    results = []
    for kind in DATABASES:
        for window0 in (False, True):
            name = kind + ("_window0" if window0 else "")
            pairs: list[tuple[float, Storm]] = []
            for n in range(PAIRS):
                tag = f"{name}-{uuid.uuid4().hex[:6]}"
                floor_rate = _floor(temporal, workdir / name / str(n), tag)
                storm = _ours(temporal, workdir / name / str(n), kind, window0, tag)
                pairs.append((floor_rate, storm))
                print(f"    pair {n + 1}: {storm.rate:.1f} alerts/s, floor {floor_rate:.1f}")
            row = _row(kind, window0, pairs)
            if kind == "sqlite" and not window0:
                row.detail.update(_durability(temporal, workdir, pairs[-1][1]))
            results.append(row)
            print(f"  {row.name}: ratio {row.ratio} (pairs {row.detail['pair_ratios']})")
    return results
