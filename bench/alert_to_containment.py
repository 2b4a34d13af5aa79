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

Like for like, each alert is sent once the previous incident's playbook has finished its
response (the floor's previous workflow has finished too). What the rest of a response
costs the next incident is reported beside it: 50 more alerts sent back to back, each as
soon as the previous key is revoked, while that incident's playbook is still running
(notices, inventory, report); the flood benchmark measures a loaded engine.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy
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
BACK_TO_BACK = 50
SETTLE_POLL_SECONDS = 0.005
TARGET_P50 = 1.25
TARGET_P99 = 1.5
SOURCE = "bench"
FINISHED_SQL = "SELECT count(*) FROM timeline_events WHERE kind = 'playbook.finished'"


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
        handle = await client.start_workflow(
            "bench-one-revocation", [str(path), key_id], id=f"{queue}-{n}", task_queue=queue
        )
        await wait_revoked(keys, key_id)
        latencies.append(time.perf_counter() - started)
        await handle.result()
    return latencies[WARMUP:]


async def _settled(store: sqlalchemy.Engine, finished: int, within: float = 120) -> None:
    """Until `finished` playbooks have finished their response."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        with store.connect() as conn:
            done = conn.execute(sqlalchemy.text(FINISHED_SQL)).scalar_one()
        if done >= finished:
            return
        await asyncio.sleep(SETTLE_POLL_SECONDS)
    raise TimeoutError(f"{finished} playbooks not finished within {within}s")


async def _alerts(
    port: int, keys: LocalKeys, kind: str, url: str
) -> tuple[list[float], list[float], int]:
    """Latencies of alerts sent once the previous response finished, then of alerts sent
    back to back; and how many were refused."""
    http = connection(port)
    store = sqlalchemy.create_engine(url)
    settled: list[float] = []
    back_to_back: list[float] = []
    refused = 0
    try:
        for n in range(WARMUP + COUNT + BACK_TO_BACK):
            wait = n < WARMUP + COUNT
            started = time.perf_counter()
            response = await http.post(f"/api/v1/alerts/{SOURCE}", _alert(n, kind))
            if response.status != 202:
                refused += 1
                continue
            await wait_revoked(keys, _key_id(n))
            (settled if wait else back_to_back).append(time.perf_counter() - started)
            if wait:
                await _settled(store, n + 1)
    finally:
        await http.close()
        store.dispose()
    return settled[WARMUP:], back_to_back, refused


def _measure(temporal: TemporalSettings, workdir: Path, kind: str) -> Result:
    data = workdir / kind
    keys_file = data / "keys.json"
    data.mkdir(parents=True, exist_ok=True)
    keys = LocalKeys(keys_file)
    total = WARMUP + COUNT + BACK_TO_BACK
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
            latencies, back_to_back, refused = asyncio.run(_alerts(port, keys, kind, url))
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
    return _result(kind, latencies, back_to_back, floor, refused, revoked, playbooks, stretches)


def _result(
    kind: str,
    latencies: Sequence[float],
    back_to_back: Sequence[float],
    floor: Sequence[float],
    refused: int,
    revoked: int,
    playbooks: int,
    stretches: dict[str, float],
) -> Result:
    total = WARMUP + COUNT + BACK_TO_BACK
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
            "back_to_back_p50_ms": ms(percentile(back_to_back, 50)),
            "back_to_back_p99_ms": ms(percentile(back_to_back, 99)),
            "back_to_back_p50_ratio": round(percentile(back_to_back, 50) / floor_p50, 2),
            "back_to_back_alerts": len(back_to_back),
            "refused": refused,
            "keys_revoked": revoked,
            "run_by_sensitive_data_leakage": playbooks,
            "median_stretches": stretches,
            "floor": "bare workflow start -> one activity making the same provider call; "
            "both timers stop when the key is seen inactive; each alert (each start) once "
            "the previous run finished",
        },
    )


def run(temporal: TemporalSettings, workdir: Path) -> list[Result]:
    return [_measure(temporal, workdir, kind) for kind in DATABASES]
