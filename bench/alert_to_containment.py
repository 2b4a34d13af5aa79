"""alert_to_containment: an HTTP alert -> the leaked key revoked at its provider.

200 sequential data-leak alerts, each its own incident, each run by the real built-in
`sensitive-data-leakage` playbook: the alert's model output holds a key whose prefix the
inventory knows (`local` provider); the playbook reads the alert, captures and classifies
the evidence, and revokes the key. Latency: from just before the POST until this process
sees the key inactive in the provider's state.

Floor: a bare workflow started with the same client on the same server, whose one
activity makes the same provider call; from just before the start until the same poll
sees the key inactive. Both timers stop at the same point: the side effect observed.
Run once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client

from bench.containment import (
    connection,
    key_inventory,
    leak,
    leak_engine,
    segments_at,
    wait_revoked,
)
from bench.harness import (
    DATABASES,
    Result,
    child,
    count,
    database,
    ms,
    percentile,
)
from integrations.keys.local import LocalKeys
from smokejumper.settings.temporal import TemporalSettings

COUNT = 200
WARMUP = 10
TARGET_P50 = 1.25
TARGET_P99 = 1.5
SOURCE = "bench"


def _key_value(n: int) -> str:
    return f"sjb{n:04d}_{'7f3a9c2e' * 3}"


def _key_id(n: int) -> str:
    return f"bench-key-{n}"


def _inventory(total: int) -> dict[str, object]:
    return key_inventory([(_key_id(n), f"sjb{n:04d}_") for n in range(total)])


def _alert(n: int, kind: str) -> bytes:
    """Key n leaked; the store's name in the user too: the SQLite run's incidents stay open
    on the same server, and the same fingerprint would signal them."""
    return leak(
        f"Secret in bench-app output ({n})",
        "high",
        f"bench-user-{kind}-{n}",
        f"The key is {_key_value(n)}.",
    )


async def _floor(target: str, queue: str, keys: LocalKeys, path: Path, first: int) -> list[float]:
    client = await Client.connect(target)
    latencies: list[float] = []
    for n in range(first, first + WARMUP + COUNT):
        key_id = _key_id(n)
        started = time.perf_counter()
        await client.start_workflow(
            "bench-one-revocation", [str(path), key_id], id=f"{queue}-{n}", task_queue=queue
        )
        await wait_revoked(keys, key_id)
        latencies.append(time.perf_counter() - started)
    return latencies[WARMUP:]


async def _alerts(port: int, keys: LocalKeys, kind: str) -> tuple[list[float], int]:
    http = connection(port)
    latencies: list[float] = []
    refused = 0
    try:
        for n in range(WARMUP + COUNT):
            started = time.perf_counter()
            response = await http.post(f"/api/v1/alerts/{SOURCE}", _alert(n, kind))
            if response.status != 202:
                refused += 1
                continue
            await wait_revoked(keys, _key_id(n))
            latencies.append(time.perf_counter() - started)
    finally:
        await http.close()
    return latencies[WARMUP:], refused


def _measure(temporal: TemporalSettings, workdir: Path, kind: str) -> Result:
    data = workdir / kind
    keys_file = data / "keys.json"
    data.mkdir(parents=True, exist_ok=True)
    keys = LocalKeys(keys_file)
    total = WARMUP + COUNT
    for n in range(2 * total):
        keys.create(_key_id(n))

    floor_queue = f"bench-floor-containment-{kind}"
    with child(
        ["-m", "bench.floor", temporal.target, floor_queue],
        dict(os.environ),
        workdir / f"floor-{kind}.log",
    ):
        floor = asyncio.run(_floor(temporal.target, floor_queue, keys, keys_file, total))

    with database(kind, data) as url:
        with leak_engine(
            data,
            url,
            temporal,
            f"bench-containment-{kind}",
            _inventory(total),
            workdir,
            f"-{kind}",
        ) as port:
            latencies, refused = asyncio.run(_alerts(port, keys, kind))
        revoked = count(
            url,
            "SELECT count(*) FROM actions WHERE action = 'revoke_key' AND status = 'completed'",
        )
        playbooks = count(
            url,
            "SELECT count(DISTINCT incident_id) FROM timeline_events "
            "WHERE kind = 'playbook.started' AND actor = 'playbook:sensitive-data-leakage'",
        )
        stretches = segments_at(url)
    return _result(kind, latencies, floor, refused, revoked, playbooks, stretches)


def _result(
    kind: str,
    latencies: Sequence[float],
    floor: Sequence[float],
    refused: int,
    revoked: int,
    playbooks: int,
    stretches: dict[str, float],
) -> Result:
    total = WARMUP + COUNT
    p50, floor_p50 = percentile(latencies, 50), percentile(floor, 50)
    p99, floor_p99 = percentile(latencies, 99), percentile(floor, 99)
    ratio, p99_ratio = p50 / floor_p50, p99 / floor_p99
    exact = refused == 0 and revoked == total and playbooks == total
    return Result(
        name=f"alert_to_containment_{kind}",
        value=ms(p50),
        unit="ms p50",
        floor=ms(floor_p50),
        ratio=round(ratio, 2),
        target=f"p50 ratio <= {TARGET_P50}, p99 ratio <= {TARGET_P99}; every alert "
        "accepted, run by sensitive-data-leakage, its key revoked once",
        ok=exact and ratio <= TARGET_P50 and p99_ratio <= TARGET_P99,
        detail={
            "p99_ms": ms(p99),
            "floor_p99_ms": ms(floor_p99),
            "p99_ratio": round(p99_ratio, 2),
            "incidents": COUNT,
            "refused": refused,
            "keys_revoked": revoked,
            "run_by_sensitive_data_leakage": playbooks,
            "median_stretches": stretches,
            "floor": "bare workflow start -> one activity making the same provider call; "
            "both timers stop when the key is seen inactive",
        },
    )


def run(temporal: TemporalSettings, workdir: Path) -> list[Result]:
    return [_measure(temporal, workdir, kind) for kind in DATABASES]
