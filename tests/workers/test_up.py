"""`smokejumper up` as a user runs it: one command, healthy, stoppable, resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.helpers import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "alerts" / "generic.json"


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces; fields after ")" are fixed.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.add(int(entry.name))
    return found


def command_line(pid: int) -> bytes:
    return (Path("/proc") / str(pid) / "cmdline").read_bytes()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_banner(process: subprocess.Popen[str], stdout: IO[str], within: float) -> str:
    deadline = time.monotonic() + within
    seen = ""
    while time.monotonic() < deadline:
        line = stdout.readline()
        if line:
            seen += line
            if line.startswith("Press Ctrl-C"):
                return seen
        elif process.poll() is not None:
            break
    raise AssertionError(f"`up` did not come up (exit {process.poll()}); stdout so far:\n{seen}")


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_up_runs_everything_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    api_port, grpc_port, ui_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "SMOKEJUMPER_DATA_DIR": str(tmp_path / "data"),
        "SMOKEJUMPER_API__PORT": str(api_port),
        "SMOKEJUMPER_TEMPORAL__DEV_SERVER_PORT": str(grpc_port),
        "SMOKEJUMPER_TEMPORAL__DEV_SERVER_UI_PORT": str(ui_port),
    }
    api = f"http://127.0.0.1:{api_port}"
    # An install from before file modes were tightened: a world-readable dir and store.
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "smokejumper.db").touch(mode=0o644)
    (data / "smokejumper.db").chmod(0o644)

    def start() -> tuple[subprocess.Popen[str], set[int]]:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "up"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=(tmp_path / "up.log").open("a"),
            text=True,
        )
        assert process.stdout is not None
        banner = wait_for_banner(process, process.stdout, within=120)
        assert f"API:          {api}" in banner
        assert f"Temporal UI:  http://127.0.0.1:{ui_port}" in banner
        children = children_of(process.pid)
        assert len(children) == 4, f"expected temporal, worker, scheduler, api: {children}"
        return process, children

    def stop(process: subprocess.Popen[str], children: set[int], how: signal.Signals) -> None:
        process.send_signal(how)
        assert process.wait(timeout=60) == 0
        assert not [pid for pid in children if alive(pid)], "a child outlived `up`"

    process, children = start()
    try:
        health = httpx.get(f"{api}/healthz", timeout=10).json()
        assert health["status"] == "ok", health
        sent = cli(env, "alert", "send", str(EXAMPLE), "--json")
        assert sent.returncode == 0, sent.stderr
        ref = json.loads(sent.stdout)["incident_id"]
        token_file = tmp_path / "data" / "operator.token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        # The stores hold raw alerts and leaked secrets: owner-only, WAL files included.
        assert data.stat().st_mode & 0o777 == 0o700
        stores = [
            path
            for path in data.iterdir()
            if path.name.startswith(("smokejumper.db", "temporal.db"))
        ]
        assert {"smokejumper.db", "smokejumper.db-wal", "temporal.db"} <= {p.name for p in stores}
        assert {path.name: oct(path.stat().st_mode & 0o777) for path in stores} == {
            path.name: oct(0o600) for path in stores
        }
        # Payloads are encrypted by default, with a key generated beside the token, and the
        # embedded UI decodes through the API's codec endpoint.
        key_file = tmp_path / "data" / "payload.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        server = [pid for pid in children if b"start-dev" in command_line(pid)]
        assert len(server) == 1
        assert f"--ui-codec-endpoint\0{api}/codec".encode() in command_line(server[0])
        auth = {"authorization": f"Bearer {token_file.read_text().strip()}"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            detail = httpx.get(f"{api}/api/v1/incidents/{ref}", headers=auth, timeout=10).json()
            if any(event["kind"] == "playbook.started" for event in detail["timeline"]):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"playbook never started: {detail}")
    finally:
        stop(process, children, signal.SIGTERM)
    # What Temporal stored of the alert (its title, the prompt) is ciphertext on disk.
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("temporal.db*"))
    # The sweep read the history: the workflow id (a hash, not content) stays readable.
    assert b"incident-" in stored
    example = json.loads(EXAMPLE.read_text())
    for planted in (example["title"], example["evidence"]["prompt"], "u-18273"):
        assert planted.encode() not in stored, planted

    # Same data dir: the incident and its running workflow are still there.
    process, children = start()
    try:
        listed = cli(env, "incidents", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [item["id"] for item in json.loads(listed.stdout)["items"]] == [ref]
        closed = cli(env, "incidents", "close", ref, "--reason", "drill")
        assert closed.returncode == 0, closed.stderr + closed.stdout
        assert f"{ref} closed; its playbook has stopped." in closed.stdout
        assert "Stays in force:" in closed.stdout
    finally:
        stop(process, children, signal.SIGINT)


def test_up_refuses_a_busy_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "SMOKEJUMPER_DATA_DIR": str(tmp_path / "data"),
            "SMOKEJUMPER_API__PORT": str(port),
        }
        result = subprocess.run(
            [sys.executable, "-m", "cli", "up"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"API port 127.0.0.1:{port} is already in use" in result.stderr
