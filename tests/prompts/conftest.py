"""The real `mlflow server` of tests/models (its Prompt Registry on the SQLite backend),
and helpers that publish prompts in it as MLflow's own client does (over REST)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from activities.prompts import PromptActivities
from smokejumper.config import Settings, load_settings
from smokejumper.store.db import Store
from testkit.pytest_plugin import playbook_harness
from tests.models.conftest import SERVER_START_TIMEOUT, MlflowServer, mlflow_server

__all__ = ["SERVER_START_TIMEOUT", "mlflow_server", "playbook_harness"]

API = "/api/2.0/mlflow"


def publish(server: MlflowServer, prompt: str, templates: list[str]) -> list[str]:
    """A prompt with one version per template, as `mlflow.genai.register_prompt` makes it."""
    server.call(
        "POST",
        f"{API}/registered-models/create",
        json={"name": prompt, "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]},
    )
    versions = []
    for template in templates:
        body = server.call(
            "POST",
            f"{API}/model-versions/create",
            json={
                "name": prompt,
                "source": "dummy-source",
                "tags": [
                    {"key": "mlflow.prompt.is_prompt", "value": "true"},
                    {"key": "_mlflow_prompt_type", "value": "text"},
                    {"key": "mlflow.prompt.text", "value": template},
                ],
            },
        )
        versions.append(str(body["model_version"]["version"]))
    return versions


def version_tags(server: MlflowServer, prompt: str, version: str) -> dict[str, str]:
    body = server.call(
        "GET", f"{API}/model-versions/get", params={"name": prompt, "version": version}
    )
    return {t["key"]: t["value"] for t in body["model_version"].get("tags", [])}


def unique_prompt(prefix: str = "support-system") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def prompt_settings(tmp_path: Path, url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data", containment={"prompts": {"mlflow_tracking_uri": url}}
    )


@pytest.fixture
def prompt_activities(
    mlflow_server: MlflowServer, migrated_store: Store, tmp_path: Path
) -> PromptActivities:
    return PromptActivities(migrated_store, prompt_settings(tmp_path, mlflow_server.url))
