"""What every benchmark shares: an embedded dev server, child processes, results."""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from smokejumper.config import TemporalSettings
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


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
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
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


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
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        handle.close()


def wait_for(predicate: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready within {within}s")
