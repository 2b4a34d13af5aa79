"""`smokejumper up`: the whole engine on one machine, as one command.

Starts the embedded Temporal dev server (unless a cluster is configured), then the worker,
the API and the scheduler as child processes; waits until each is healthy; prints where
to find them; and on Ctrl-C or SIGTERM stops them in reverse order, leaving nothing behind.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from smokejumper.app import check_playbooks
from smokejumper.config import CONFIG_ENV, Settings
from smokejumper.private_files import private_database, private_dir
from smokejumper.sdk.registry import discover
from smokejumper.security.payload_key import ensure_payload_key
from smokejumper.store.migrate import upgrade
from smokejumper.temporal.devserver import dev_server_command, wait_until_serving

READY_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
_PR_SET_PDEATHSIG = 1


class StartupError(RuntimeError):
    pass


def _die_with_parent() -> None:
    # Linux only: the kernel signals the child if `up` itself is killed, so even a SIGKILL
    # of the supervisor leaves no orphan serving on our ports.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class Child:
    name: str
    argv: list[str]
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        stdout = None
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            stdout = self.log_file.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout else None,
            start_new_session=True,
            # Safe: `up` starts no threads before forking (see wait_until_serving).
            preexec_fn=_die_with_parent,
        )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _check_ports(settings: Settings) -> None:
    wanted = [("API", settings.api.host, settings.api.port)]
    if settings.temporal.embedded:
        wanted.append(("Temporal", "127.0.0.1", settings.temporal.dev_server_port))
        if settings.temporal.dev_server_ui:
            wanted.append(("Temporal UI", "127.0.0.1", settings.temporal.dev_server_ui_port))
    for name, host, port in wanted:
        if not _port_free(host, port):
            raise StartupError(
                f"{name} port {host}:{port} is already in use — is another smokejumper "
                f"running? Change it in smokejumper.toml or SMOKEJUMPER_* variables."
            )


def _health(url: str) -> dict[str, str] | None:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=3) as response:  # noqa: S310
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    components: dict[str, str] = body.get("components", {})
    return components


class Supervisor:
    def __init__(
        self, settings: Settings, config_file: Path | None, *, log_dir: Path | None = None
    ) -> None:
        self.settings = settings
        self.config_file = config_file
        # Unset: the children log to this terminal; set: each to <log_dir>/<name>.log.
        self.log_dir = log_dir
        self.children: list[Child] = []
        self.stopping = False

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.config_file is not None:
            env[CONFIG_ENV] = str(self.config_file.resolve())
        return env

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        """Signal handler: stop at the next check."""
        self.stopping = True

    def _child(self, name: str) -> Child:
        argv = [sys.executable, "-m", "cli", name]
        log_file = self.log_dir / f"{name}.log" if self.log_dir is not None else None
        return Child(name=name, argv=argv, log_file=log_file)

    def start(self) -> None:
        settings = self.settings
        private_dir(settings.data_dir)
        _check_ports(settings)
        # Before any child starts: each reads the key from the data dir with its settings.
        ensure_payload_key(settings)
        upgrade(settings.effective_database_url)
        env = self.child_env()
        if settings.temporal.embedded:
            # The dev server takes an existing file as set up, so it creates temporal.db
            # itself: under an owner-only umask, and an older install's files are tightened.
            private_database(settings.data_dir / "temporal.db", create=False)
            os.umask(0o077)
            temporal = Child(
                name="temporal",
                argv=dev_server_command(
                    settings.temporal, settings.data_dir, f"{settings.api_url}/codec"
                ),
                log_file=settings.data_dir / "logs" / "temporal.log",
            )
            temporal.start(env)
            self.children.append(temporal)
            wait_until_serving(
                settings.temporal.target,
                settings.temporal.namespace,
                READY_TIMEOUT,
                temporal.process,
            )
        for name in ("worker", "scheduler", "api"):
            child = self._child(name)
            child.start(env)
            self.children.append(child)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        components: dict[str, str] | None = None
        while time.monotonic() < deadline:
            if self.stopping:
                raise StartupError("interrupted while starting")
            for child in self.children:
                if not child.alive:
                    raise StartupError(f"{child.name} exited during start-up")
            components = _health(self.settings.api_url)
            if components and all(value == "ok" for value in components.values()):
                return
            time.sleep(0.3)
        raise StartupError(f"not healthy after {READY_TIMEOUT:.0f}s: {components}")

    def banner(self, *, hint: bool = True) -> str:
        settings = self.settings
        lines = [
            "smokejumper is up",
            f"  API:          {settings.api_url}  (OpenAPI: {settings.api_url}/docs)",
        ]
        if settings.temporal.ui_url:
            lines.append(f"  Temporal UI:  {settings.temporal.ui_url}")
        where = "embedded dev server" if settings.temporal.embedded else "cluster"
        lines.append(
            f"  Temporal:     {settings.temporal.target} ({where}, namespace "
            f"{settings.temporal.namespace})"
        )
        lines.append(f"  Data:         {settings.data_dir.resolve()}")
        if hint:
            lines.append(
                "  Demo:         `make demo` (or `smokejumper demo`) fires the example alerts "
                "at a separate engine"
            )
        lines.append("Press Ctrl-C to stop.")
        return "\n".join(lines)

    def dead_child(self) -> str | None:
        """`name (code N)` of the first child that exited on its own, if any."""
        for child in self.children:
            if not child.alive:
                code = child.process.returncode if child.process else None
                return f"{child.name} (code {code})"
        return None

    def watch(self) -> int:
        """Block until asked to stop (0) or until a child dies on its own (1)."""
        while not self.stopping:
            dead = self.dead_child()
            if dead is not None:
                print(f"smokejumper: {dead} exited; stopping", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()


def main(settings: Settings, config_file: Path | None = None) -> int:
    # Refuse bad routes and broken playbook files here, before anything starts, rather
    # than in the API or worker child.
    check_playbooks(settings, discover(settings))
    supervisor = Supervisor(settings, config_file)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    try:
        supervisor.start()
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"smokejumper: could not start: {exc}", file=sys.stderr)
        supervisor.stop()
        return 1
    print(supervisor.banner(), flush=True)
    code = supervisor.watch()
    print("smokejumper: stopping…", file=sys.stderr, flush=True)
    supervisor.stop()
    print("smokejumper: stopped", file=sys.stderr, flush=True)
    return code
