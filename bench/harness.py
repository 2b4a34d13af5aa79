"""What every benchmark shares: an embedded dev server, child processes, results."""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy

from smokejumper.settings.temporal import TemporalSettings
from smokejumper.store.migrate import upgrade
from smokejumper.temporal.devserver import dev_server_command, wait_until_serving


@dataclass
class Result:
    name: str
    value: float
    unit: str
    floor: float | None
    ratio: float | None
    target: str
    ok: bool
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def measured_commit() -> str:
    """The commit the benchmarks ran at; `+changes` when the work tree differed from it."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        changed = git(
            "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results.json"
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if changed else "")


def _memory_gib() -> float | None:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


@contextmanager
def dev_server(workdir: Path) -> Iterator[TemporalSettings]:
    """The embedded dev server exactly as `smokejumper up` runs it (file-backed, WAL)."""
    settings = TemporalSettings(
        dev_server_port=free_port(), dev_server_ui=False, task_queue="bench"
    )
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "temporal.log").open("ab")
    process = subprocess.Popen(
        dev_server_command(settings, workdir), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_until_serving(settings.target, settings.namespace, 60, process)
        yield settings
    finally:
        _stop(process, 20)
        log.close()


def _stop(process: subprocess.Popen[bytes], within: float) -> None:
    """SIGTERM, then SIGKILL if it is still there after `within` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def child(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A `python -m …` child process, stopped with SIGTERM at the end."""
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, *args], env=env, stdout=handle, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        _stop(process, 30)
        handle.close()


def wait_for(predicate: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready within {within}s")


PLAYBOOKS = Path(__file__).parent / "playbooks"


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
DATABASES = ("sqlite", "postgresql")


@contextmanager
def database(kind: str, data: Path) -> Iterator[str]:
    """A fresh, migrated store of `kind` ("sqlite" in `data`, or a new PostgreSQL database
    on this machine, dropped afterwards); yields its SQLAlchemy URL."""
    data.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        url = f"sqlite:///{data / 'smokejumper.db'}"
        upgrade(url)
        yield url
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}; known: {', '.join(DATABASES)}")
    name = f"smokejumper_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count(url: str, sql: str) -> int:
    """One `SELECT count(*) …` against the store at `url`, SQLite or PostgreSQL."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sqlalchemy.text(sql)).scalar_one())
    finally:
        engine.dispose()


def engine_env(
    data: Path,
    port: int,
    temporal: TemporalSettings,
    queue: str,
    url: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """Environment of `smokejumper worker`/`api` children: own data dir, store (`url`, or
    a SQLite file migrated here) and task queue; the benchmark playbooks loaded; `extra`
    as SMOKEJUMPER_* variables."""
    data.mkdir(parents=True, exist_ok=True)
    if url is None:
        url = f"sqlite:///{data / 'smokejumper.db'}"
        upgrade(url)
    return {
        **os.environ,
        "SMOKEJUMPER_DATA_DIR": str(data),
        "SMOKEJUMPER_DATABASE_URL": url,
        "SMOKEJUMPER_LOG_LEVEL": "WARNING",
        "SMOKEJUMPER_API__PORT": str(port),
        "SMOKEJUMPER_TEMPORAL__ADDRESS": temporal.target,
        "SMOKEJUMPER_TEMPORAL__TASK_QUEUE": queue,
        "SMOKEJUMPER_PLAYBOOK_DIRS": json.dumps([str(PLAYBOOKS)]),
        **{f"SMOKEJUMPER_{name.upper()}": value for name, value in extra.items()},
    }


def wait_for_worker(api: str, within: float = 60) -> None:
    """Until the API answers and reports a worker polling its task queue."""

    def polling() -> bool:
        try:
            health: dict[str, Any] = httpx.get(f"{api}/healthz", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        return bool(health.get("components", {}).get("worker") == "ok")

    wait_for(polling, within, "smokejumper API and worker")


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def p50_against_floor(
    name: str,
    latencies: Sequence[float],
    floor_latencies: Sequence[float],
    *,
    target_ratio: float,
    target: str,
    exact: bool,
    detail: dict[str, Any],
) -> Result:
    """A latency benchmark's result: its p50 as a ratio to the floor's p50 (ok when the
    run was exact and the ratio within `target_ratio`), p99s of both in the detail."""
    p50, floor_p50 = percentile(latencies, 50), percentile(floor_latencies, 50)
    ratio = p50 / floor_p50
    return Result(
        name=name,
        value=ms(p50),
        unit="ms p50",
        floor=ms(floor_p50),
        ratio=round(ratio, 2),
        target=target,
        ok=exact and ratio <= target_ratio,
        detail={
            "p99_ms": ms(percentile(latencies, 99)),
            "floor_p99_ms": ms(percentile(floor_latencies, 99)),
            **detail,
        },
    )
