"""The model-integrity poller on `models:/` URIs, resolved through a real `mlflow server`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from integrations.inventory.mlflow import MlflowSource
from integrations.models.registry import mlflow_artifact_check, mlflow_client
from integrations.pollers.base import Item
from integrations.pollers.model_integrity import ModelIntegrityPoller
from integrations.sources.registry import get_normalizer
from smokejumper.config import Settings, load_settings
from smokejumper.inventory.sync import sync_inventory
from smokejumper.store.db import Store
from tests.models.conftest import (
    SERVER_START_TIMEOUT,
    MlflowServer,
    digest_of,
    mlflow_settings,
    model_files,
    unique_model,
)

pytestmark = SERVER_START_TIMEOUT


def poller(store: Store, settings: Settings) -> ModelIntegrityPoller:
    normalizer = get_normalizer("model-integrity")
    assert normalizer is not None
    return ModelIntegrityPoller(
        name="integrity",
        source="model-integrity",
        normalizer=normalizer,
        store=store,
        interval_seconds=60,
        registry=mlflow_artifact_check(settings),
    )


async def alerts(integrity: ModelIntegrityPoller, model: str) -> list[dict[str, Any]]:
    found = []
    async for record in integrity.poll({}):
        if isinstance(record, Item) and record.payload["model"] == model:
            found.append(record.payload)
    return found


async def test_a_registry_version_whose_files_change_is_alerted(
    mlflow_server: MlflowServer, sqlite_store: Store, tmp_path: Path
) -> None:
    model = unique_model("integrity")
    files = model_files(f"{model}-v1")
    mlflow_server.register(model, [files])
    settings = mlflow_settings(tmp_path, mlflow_server.url)
    sync_inventory(sqlite_store, MlflowSource(mlflow_client(settings), prefix=model))
    integrity = poller(sqlite_store, settings)

    assert await alerts(integrity, model) == []

    mlflow_server.upload(mlflow_server.version_path(model, "1"), {"model.bin": b"backdoored"})
    (alert,) = await alerts(integrity, model)

    assert alert["artifact_uri"] == f"models:/{model}/1"
    assert alert["registry"] == "mlflow"
    assert alert["expected_digest"] == digest_of(tmp_path, files)
    changed = {**files, "model.bin": b"backdoored"}
    assert alert["actual_digest"] == digest_of(tmp_path, changed)


def test_models_uris_resolve_aliases_and_report_what_is_missing(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    model = unique_model("resolve")
    files = [model_files(f"{model}-v{n}") for n in (1, 2)]
    mlflow_server.register(model, files)
    mlflow_server.set_alias(model, "production", "1")
    check = mlflow_artifact_check(mlflow_settings(tmp_path, mlflow_server.url))
    assert check is not None

    assert check(f"models:/{model}@production").digest == digest_of(tmp_path, files[0])
    assert check(f"models:/{model}/2").digest == digest_of(tmp_path, files[1])
    missing = check(f"models:/{model}-gone/1")
    assert missing.status == "missing"
    assert "RESOURCE_DOES_NOT_EXIST" in str(missing.reason)
    assert check(f"models:/{model}@staging").status == "missing"
    assert check("models:/just-a-name").status == "unchecked"


def test_models_uris_without_a_registry_are_unchecked(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = load_settings(data_dir=tmp_path / "data")
    integrity = poller(sqlite_store, settings)
    assert integrity.registry is None
    check = integrity._digest("models:/support-llm/3")
    assert check.status == "unchecked"
    assert "containment.mlflow.tracking_uri" in str(check.reason)
