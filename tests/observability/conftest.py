"""`smokejumper api` and `smokejumper worker`, run as an operator runs them with metrics,
traces and JSON logs configured, and the OTLP receiver their traces go to."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.util._once import Once
from temporalio.testing import WorkflowEnvironment

from smokejumper.config import Settings, load_settings
from smokejumper.observability import tracing
from smokejumper.security.operator import operator_token
from smokejumper.store.migrate import upgrade
from tests.helpers import eventually, free_port
from tests.observability.otlp_receiver import OtlpReceiver

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "alerts" / "generic.json"


@pytest.fixture(scope="package")
def otlp_receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver
        # A test installed this process's provider: flushed while the receiver still
        # listens, then uninstalled, so the rest of the suite's in-process APIs make no
        # spans (OpenTelemetry has no public way back to "not configured").
        provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            provider.shutdown()
        trace._TRACER_PROVIDER_SET_ONCE = Once()
        trace._TRACER_PROVIDER = None
        tracing._installed = None


@dataclass
class Engine:
    settings: Settings
    metrics_url: str
    logs: dict[str, Path]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def log_lines(self, process: str) -> list[str]:
        return self.logs[process].read_text(encoding="utf-8").splitlines()

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.settings.api_url,
            timeout=30,
            headers={"authorization": f"Bearer {operator_token(self.settings)}"},
        )


# Started once for the tests of this folder (each on an incident of its own).
@pytest.fixture(scope="package")
def engine(
    tmp_path_factory: pytest.TempPathFactory,
    temporal_env: WorkflowEnvironment,
    otlp_receiver: OtlpReceiver,
) -> Iterator[Engine]:
    root = tmp_path_factory.mktemp("engine")
    metrics_port = free_port()
    config = root / "smokejumper.toml"
    config.write_text(
        f"""
data_dir = "{root / "data"}"
database_url = "sqlite:///{root / "smokejumper.db"}"

[api]
port = {free_port()}

[temporal]
address = "{temporal_env.client.service_client.config.target_host}"
task_queue = "tq-{uuid.uuid4().hex[:8]}"

[observability]
otlp_endpoint = "{otlp_receiver.url}"
sdk_metrics_bind = "127.0.0.1:{metrics_port}"
service_name = "smokejumper-test"
log_format = "json"
""",
        encoding="utf-8",
    )
    settings = load_settings(config)
    upgrade(settings.effective_database_url)
    env = {name: value for name, value in os.environ.items() if not name.startswith("SMOKEJUMPER_")}
    # Spans leave within a fifth of a second rather than the default five.
    env["OTEL_BSP_SCHEDULE_DELAY"] = "200"
    running = Engine(
        settings,
        f"http://127.0.0.1:{metrics_port}/metrics",
        {name: root / f"{name}.log" for name in ("worker", "api")},
    )
    try:
        for name, log in running.logs.items():
            with log.open("wb") as output:
                running.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "cli", "--config", str(config), name],
                        env=env,
                        cwd=root,
                        stdout=output,
                        stderr=output,
                    )
                )
        _wait_until_up(running)
        yield running
    finally:
        for process in running.processes:
            process.send_signal(signal.SIGTERM)
        for process in running.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(engine: Engine) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for process in engine.processes:
            if process.poll() is not None:
                raise AssertionError(
                    f"{process.args!r} exited {process.returncode}:\n{_logs(engine)}"
                )
        polling = any("worker polling" in line for line in engine.log_lines("worker"))
        try:
            healthy = httpx.get(f"{engine.settings.api_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            healthy = False
        if polling and healthy:
            return
        time.sleep(0.1)
    raise AssertionError(f"the engine did not come up within 60 s:\n{_logs(engine)}")


def _logs(engine: Engine) -> str:
    return "\n".join(f"{name}:\n{path.read_text()}" for name, path in engine.logs.items())


def direct_injection(prompt: str) -> dict[str, Any]:
    """The example prompt-injection alert, from a user of its own (its own incident); the
    playbook blocks the user and adds an input-filter rule, at the embedded control plane."""
    alert: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    alert["principal"]["user"] = f"u-{uuid.uuid4().hex[:8]}"
    alert["evidence"]["prompt"] = prompt
    return alert


async def until_status(http: httpx.AsyncClient, ref: str, status: str) -> None:
    async def reached() -> bool:
        response = await http.get(f"/api/v1/incidents/{ref}")
        return bool(response.json()["status"] == status)

    await eventually(reached, within=60)
