"""What the containment benchmarks share: seeded control-plane state, alerts that name the
key to contain, and when the store says an action finished."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import sqlalchemy

from bench.harness import child, engine_env, free_port, wait_for_worker
from bench.http_load import Connection
from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from smokejumper.domain.containment import KeyStatus
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import load_inventory
from smokejumper.settings.temporal import TemporalSettings
from smokejumper.store.db import Store

SOURCE = "bench"
TOKEN = "bench-containment-token-0123456789"  # noqa: S105 - a throwaway credential for the run
POLL_SECONDS = 0.002


def seed(data: Path, names: list[str], endpoints: bool = False) -> None:
    """Active `local` keys (and endpoints) with these names, before the engine starts."""
    keys = LocalKeys(data / "keys.json")
    places = LocalEndpoints(data / "endpoints.json")
    for name in names:
        keys.create(name)
        if endpoints:
            places.create(name)


def alert(kind: str, name: str) -> bytes:
    """An alert whose title names the key to contain; its own principal, so its own incident."""
    return json.dumps(
        {
            "source": SOURCE,
            "kind": kind,
            "severity": "critical",
            "title": name,
            "principal": {"api_key_id": name},
            "target": {"application": "bench", "endpoint": name},
        }
    ).encode()


def key_inventory(keys: list[tuple[str, str]]) -> dict[str, object]:
    """An inventory of one application whose `local` keys are these (key id, prefix)."""
    owner = "bench@example.com"
    return {
        "applications": [{"name": "bench-app", "owner": owner}],
        "api_keys": [
            {
                "key_id": key_id,
                "provider": "local",
                "prefix": prefix,
                "owner": owner,
                "application": "bench-app",
            }
            for key_id, prefix in keys
        ],
    }


def leak(
    title: str, severity: str, user: str, response: str, prompt: str = "What is the service key?"
) -> bytes:
    """A DLP alert on bench-app's model output; its own user, so its own incident."""
    return json.dumps(
        {
            "source": SOURCE,
            "kind": "data_leakage",
            "severity": severity,
            "title": title,
            "principal": {"user": user},
            "target": {"application": "bench-app"},
            "evidence": {"prompt": prompt, "response": response},
        }
    ).encode()


@contextmanager
def leak_engine(
    data: Path,
    url: str,
    temporal: TemporalSettings,
    queue: str,
    inventory: dict[str, object],
    logs: Path,
    tag: str = "",
) -> Iterator[int]:
    """`smokejumper worker` and `api` with the built-in playbooks only, the store at `url`
    holding `inventory`, alerts accepted from the `bench` source; yields the API's port
    once a worker polls. Logs go to worker`tag`.log and api`tag`.log in `logs`."""
    store = Store(url)
    import_inventory(store, load_inventory(inventory))
    store.dispose()
    port = free_port()
    env = engine_env(
        data,
        port,
        temporal,
        queue,
        url=url,
        playbook_dirs="[]",
        sources__bench__format="generic",
        sources__bench__token=TOKEN,
        sources__bench__rate_limit_per_second="0",
    )
    with (
        child(["-m", "cli", "worker"], env, logs / f"worker{tag}.log"),
        child(["-m", "cli", "api"], env, logs / f"api{tag}.log"),
    ):
        wait_for_worker(f"http://127.0.0.1:{port}")
        yield port


def connection(port: int) -> Connection:
    return Connection(
        "127.0.0.1",
        port,
        {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )


async def timed_until_completed(
    http: Connection,
    posts: Iterable[tuple[str, bytes, str]],
    actions: Actions,
    action: str,
    accepted: int,
) -> tuple[list[float], int]:
    """For each (path, body, target), one after another: POST it and wait until `action`
    of `target` is completed at its provider. Seconds from just before each POST to the
    completion, and how many POSTs were not answered `accepted` (not waited for)."""
    latencies: list[float] = []
    refused = 0
    try:
        for path, body, target in posts:
            started = time.time()
            response = await http.post(path, body)
            if response.status != accepted:
                refused += 1
                continue
            done = await actions.wait_finished(action, target)
            latencies.append(done - started)
    finally:
        await http.close()
    return latencies, refused


class Actions:
    """Read-only view of the engine's `actions` table (its own SQLite connection)."""

    def __init__(self, data: Path) -> None:
        self.db = sqlite3.connect(data / "smokejumper.db", isolation_level=None)

    def finished(self, action: str, target: str) -> float | None:
        row = self.db.execute(
            "SELECT finished_at FROM actions WHERE action = ? AND target = ? "
            "AND status = 'completed'",
            (action, target),
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return datetime.fromisoformat(row[0]).replace(tzinfo=UTC).timestamp()

    async def wait_finished(self, action: str, target: str, within: float = 60) -> float:
        """Epoch seconds at which the action completed at its provider."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            found = self.finished(action, target)
            if found is not None:
                return found
            await asyncio.sleep(POLL_SECONDS)
        raise TimeoutError(f"{action} of {target} not completed within {within}s")

    def count(self, sql: str) -> int:
        value: int = self.db.execute(sql).fetchone()[0]
        return value

    def close(self) -> None:
        self.db.close()


SEGMENTS_SQL = """
SELECT i.opened_at, a.started_at, a.finished_at,
       (SELECT min(t.at) FROM timeline_events t
         WHERE t.incident_id = i.id AND t.kind = 'playbook.started')
  FROM incidents i JOIN actions a ON a.incident_id = i.id AND a.action = 'revoke_key'
"""
# Where the time goes, from the store's own timestamps: incident row written -> revocation's
# action row claimed (the run started, the leak classified) -> revocation completed (the
# provider called and checked); and the start on the timeline, written after the revocation
# is on its way (containment first).
SEGMENTS = ("to_revocation_started", "revocation", "revocation_to_playbook_started")


async def wait_revoked(keys: LocalKeys, key_id: str, within: float = 60) -> None:
    """Until the provider's state shows the key inactive (the side effect itself)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if keys.state(key_id).status == KeyStatus.INACTIVE:
            return
        await asyncio.sleep(POLL_SECONDS)
    raise TimeoutError(f"{key_id} not revoked within {within}s")


def _epoch(value: object) -> float:
    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def segments_at(url: str) -> dict[str, float]:
    """`segments`, read from the store at `url` (SQLite or PostgreSQL)."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text(SEGMENTS_SQL)).all()
    finally:
        engine.dispose()
    return _medians([tuple(row) for row in rows])


def _medians(rows: list[tuple[object, ...]]) -> dict[str, float]:
    spans: dict[str, list[float]] = {name: [] for name in SEGMENTS}
    for row in rows:
        if None in row:
            continue
        opened, started, finished, playbook = (_epoch(value) for value in row)
        spans["to_revocation_started"].append(started - opened)
        spans["revocation"].append(finished - started)
        spans["revocation_to_playbook_started"].append(playbook - started)
    return {
        f"{name}_ms": round(median(values) * 1000, 1) for name, values in spans.items() if values
    }


def segments(actions: Actions) -> dict[str, float]:
    """Median milliseconds of each stretch from the incident row to the revocation: where
    the time goes, read from the store's own timestamps."""
    return _medians([tuple(row) for row in actions.db.execute(SEGMENTS_SQL)])
