"""A real `mlflow server` (SQLite backend store, artifacts served from a temporary folder),
started once per session, and helpers that register models in it over its REST API.

Alias changes are counted on the server side, from its access log: every request the server
answers is logged there, whichever client (or retry) sent it, so a count cannot miss a call
the provider made.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from activities.models import ModelActivities
from integrations.digest import directory_digest
from smokejumper.config import Settings, load_settings
from smokejumper.domain.containment import ActionResult, ModelAction
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import load_inventory
from smokejumper.store.db import Store
from smokejumper.store.tables import Action
from tests.helpers import free_port, insert_incident

API = "/api/2.0/mlflow"
# The first test to use the server also waits for it to start.
SERVER_START_TIMEOUT = pytest.mark.timeout(600)
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """Base URL of an `mlflow server` process, stopped at the end of the session. Starting it
    takes a minute or two on a busy machine: the modules that use it allow for that in their
    test timeout (SERVER_START_TIMEOUT)."""
    binary = Path(sys.executable).with_name("mlflow")
    if not binary.is_file():
        pytest.fail(f"mlflow is required at {binary}: pip install -e '.[dev]'", pytrace=False)
    root = tmp_path_factory.mktemp("mlflow")
    log_path = root / "server.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Into a file, not a pipe: the server logs every request and would block on a full pipe.
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                str(binary),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--artifacts-destination",
                str(root / "artifacts"),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=root,
            # Its background job runner (scoring, trace archival) is not what is tested and
            # costs a process and CPU on a small machine.
            env={
                **os.environ,
                "MLFLOW_TRACKING_URI": "",
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                "PYTHONUNBUFFERED": "1",
            },
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"mlflow server exited with {process.returncode}:\n{_log_tail(log_path)}",
                    pytrace=False,
                )
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"mlflow server did not answer on {url}/health:\n{_log_tail(log_path)}",
                    pytrace=False,
                )
            time.sleep(0.2)
        yield MlflowServer(url, log_path, root / "artifacts")
    finally:
        # Its own session: the server's worker processes go with it.
        try:
            os.killpg(process.pid, 15)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        except ProcessLookupError:
            pass


@dataclass
class MlflowServer:
    url: str
    log_path: Path
    artifacts: Path

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = httpx.request(method, f"{self.url}{path}", timeout=30, **kwargs)
        assert response.status_code < 400, f"{method} {path}: {response.text}"
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    def alias_writes(self) -> int:
        """Requests that set or delete an alias, as the server's access log records them."""
        pattern = re.compile(r'"(POST|DELETE) /api/2\.0/mlflow/registered-models/alias[ ?]')
        return len(pattern.findall(self.log_path.read_text(errors="replace")))

    def upload(self, path: str, files: dict[str, bytes]) -> None:
        for name, data in files.items():
            response = httpx.put(f"{self.url}{ARTIFACTS}/{path}/{name}", content=data, timeout=30)
            assert response.status_code == 200, response.text

    def register(self, model: str, versions: list[dict[str, bytes]]) -> list[str]:
        """A registered model with one version per file set; returns the version numbers."""
        self.call("POST", f"{API}/registered-models/create", json={"name": model})
        return [self.register_version(model, files) for files in versions]

    def register_version(self, model: str, files: dict[str, bytes]) -> str:
        """A new version of `model` logged by a run of its own, as training code does: the
        artifacts are uploaded through the artifact proxy, the source is `runs:/<id>/model`."""
        run = self.call("POST", f"{API}/runs/create", json={"experiment_id": "0"})["run"]
        run_id = str(run["info"]["run_id"])
        self.upload(f"{self._proxied(run['info']['artifact_uri'])}/model", files)
        body = self.call(
            "POST",
            f"{API}/model-versions/create",
            json={"name": model, "source": f"runs:/{run_id}/model", "run_id": run_id},
        )
        return str(body["model_version"]["version"])

    @staticmethod
    def _proxied(uri: str) -> str:
        return uri.removeprefix("mlflow-artifacts:").lstrip("/")

    def version_path(self, model: str, version: str) -> str:
        """Where the version's artifacts are, below the artifact proxy's root."""
        body = self.call(
            "GET", f"{API}/model-versions/get", params={"name": model, "version": version}
        )
        run_id = str(body["model_version"]["run_id"])
        run = self.call("GET", f"{API}/runs/get", params={"run_id": run_id})["run"]
        return f"{self._proxied(run['info']['artifact_uri'])}/model"

    def set_alias(self, model: str, alias: str, version: str) -> None:
        self.call(
            "POST",
            f"{API}/registered-models/alias",
            json={"name": model, "alias": alias, "version": version},
        )

    def alias(self, model: str, alias: str) -> str | None:
        body = self.call("GET", f"{API}/registered-models/get", params={"name": model})
        aliases = {
            a["alias"]: str(a["version"]) for a in body["registered_model"].get("aliases", [])
        }
        return aliases.get(alias)


def model_files(tag: str) -> dict[str, bytes]:
    """A small model folder whose contents differ by `tag`."""
    return {
        "MLmodel": f"flavors:\n  python_function:\n    tag: {tag}\n".encode(),
        "model.bin": (tag * 200).encode(),
    }


def digest_of(tmp_path: Path, files: dict[str, bytes]) -> str:
    """The digest of the same files as a local folder: what an inventory records."""
    folder = tmp_path / f"digest-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return directory_digest(folder)


def record_inventory(
    store: Store, model: str, digests: dict[str, str], *, known_bad: tuple[str, ...] = ()
) -> None:
    """The inventory as the ML platform team keeps it: each version's digest."""
    document = load_inventory(
        {
            "models": [
                {
                    "name": model,
                    "provider": "mlflow",
                    "versions": [
                        {"version": v, "digest": d, "known_good": v not in known_bad}
                        for v, d in digests.items()
                    ],
                }
            ]
        }
    )
    import_inventory(store, document)


def mlflow_settings(tmp_path: Path, url: str) -> Settings:
    return load_settings(data_dir=tmp_path / "data", containment={"mlflow": {"tracking_uri": url}})


def rollback_action(store: Store, model: str, provider: str = "mlflow") -> ModelAction:
    incident = insert_incident(store, playbook="test-rollback", fingerprint=uuid.uuid4().hex)
    return ModelAction(
        incident_id=incident.incident_id, step="roll back", provider=provider, model=model
    )


def unique_model(prefix: str = "fraud") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def rollback(activities: ModelActivities, action: ModelAction) -> ActionResult:
    result: ActionResult = await ActivityEnvironment().run(activities.rollback_model, action)
    return result


async def restore(activities: ModelActivities, action: ModelAction) -> ActionResult:
    result: ActionResult = await ActivityEnvironment().run(activities.restore_model, action)
    return result


def row_of(store: Store, action: ModelAction) -> Action:
    with store.session() as session:
        row = session.scalar(select(Action).where(Action.business_key == action.business_key))
    assert row is not None
    return row


@pytest.fixture
def mlflow_activities(
    mlflow_server: MlflowServer, migrated_store: Store, tmp_path: Path
) -> ModelActivities:
    return ModelActivities(migrated_store, mlflow_settings(tmp_path, mlflow_server.url))
