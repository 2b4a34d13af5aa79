"""The Kubernetes configuration run for real: the migration Job's command migrates a fresh
PostgreSQL database, and the API Deployment's process, started with the pod's
environment, configuration and Secret files, passes its readiness probe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from cli.main import app
from smokejumper.store.migrate import current_revision, head_revision
from tests.deploy import artefacts
from tests.deploy.test_settings import _container_env, _filled_secret, kubernetes_mounts
from tests.helpers import free_port

SMOKEJUMPER = Path(sys.executable).with_name("smokejumper")


def _args(workload: str) -> list[str]:
    for name, spec in artefacts.pod_specs():
        if name == workload:
            (container,) = spec["containers"]
            return list(container["args"])
    raise AssertionError(f"no workload {workload}")


def test_the_migration_job_and_the_api_readiness_probe(tmp_path: Path, postgres_url: str) -> None:
    secret = _filled_secret() | {"database-url": postgres_url}
    _, root = kubernetes_mounts(tmp_path, secret)
    (root / "var/lib/smokejumper").mkdir(parents=True)
    environments = _container_env(secret)
    base = {key: value for key, value in os.environ.items() if not key.startswith("SMOKEJUMPER_")}

    def pod_env(workload: str) -> dict[str, str]:
        env = base | environments[workload]
        env["SMOKEJUMPER_CONFIG"] = str(root) + env["SMOKEJUMPER_CONFIG"]
        return env

    job = subprocess.run(
        [str(SMOKEJUMPER), *_args("smokejumper-db-upgrade")],
        env=pod_env("smokejumper-db-upgrade"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert job.returncode == 0, job.stderr
    assert current_revision(postgres_url) == head_revision()

    port = free_port()
    env = pod_env("smokejumper-api")
    # Loopback and a free port here; in the pod, 0.0.0.0:8000 from the ConfigMap.
    env["SMOKEJUMPER_API__HOST"] = "127.0.0.1"
    env["SMOKEJUMPER_API__PORT"] = str(port)
    # No Temporal here: readiness follows the store alone (the outbox covers Temporal).
    env["SMOKEJUMPER_TEMPORAL__ADDRESS"] = f"127.0.0.1:{free_port()}"
    (api,) = [d for d in artefacts.kind("Deployment") if d["metadata"]["name"].endswith("-api")]
    (container,) = api["spec"]["template"]["spec"]["containers"]
    probe = container["readinessProbe"]["httpGet"]["path"]
    log = tmp_path / "api.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(SMOKEJUMPER), *container["args"]],
            env=env,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=10)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.2)
        assert answer.status_code == 200, answer.text
        components = answer.json()["components"]
        assert components["database"] == "ok"
        assert components["temporal"].startswith("error")
        # The credentials came from the Secret's files: none was generated into data_dir.
        data_dir = root / "var/lib/smokejumper/data"
        assert not (data_dir / "operator.token").exists()
        operator = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/incidents",
            headers={"Authorization": f"Bearer {secret['operator-token']}"},
            timeout=10,
        )
        assert operator.status_code == 200, operator.text
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # Stopped as the kubelet stops it (SIGTERM): a graceful shutdown, within the grace period.
    stopped = log.read_text(errors="replace")
    assert process.returncode in (0, -signal.SIGTERM), stopped
    assert "Application shutdown complete" in stopped


def test_the_migration_job_says_in_one_line_why_the_database_did_not_answer(
    tmp_path: Path,
) -> None:
    """Started before PostgreSQL answers (or with a wrong URL), the Job's pod fails with one
    line naming the cause, never the password, and is retried by the Job."""
    password = "hunter2-never-logged"
    url = f"postgresql+psycopg://smokejumper:{password}@127.0.0.1:{free_port()}/smokejumper"
    secret = _filled_secret() | {"database-url": url}
    _, root = kubernetes_mounts(tmp_path, secret)
    env = _container_env(secret)["smokejumper-db-upgrade"]
    env["SMOKEJUMPER_CONFIG"] = str(root) + env["SMOKEJUMPER_CONFIG"]
    result = CliRunner().invoke(app, _args("smokejumper-db-upgrade"), env=env)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot migrate the database ("), lines
    assert "Connection refused" in lines[0]
    assert password not in result.output
