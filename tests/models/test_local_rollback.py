"""Rolling back a pinned model version of the embedded control plane (`models.json`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.models import ModelActivities
from integrations.models.base import ModelState
from integrations.models.local import LocalModels
from smokejumper.config import load_settings
from smokejumper.store.db import Store
from tests.models.conftest import (
    digest_of,
    model_files,
    record_inventory,
    restore,
    rollback,
    rollback_action,
)


def deploy(tmp_path: Path, models: LocalModels, model: str, version: str) -> dict[str, bytes]:
    files = model_files(f"{model}-{version}")
    folder = tmp_path / "artifacts" / model / version
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    models.register(model, version, artifact_uri=str(folder), aliases=("production",))
    return files


@pytest.fixture
def local_activities(migrated_store: Store, tmp_path: Path) -> ModelActivities:
    return ModelActivities(migrated_store, load_settings(data_dir=tmp_path / "data"))


async def test_rollback_and_restore_the_pinned_version(
    local_activities: ModelActivities, migrated_store: Store, tmp_path: Path
) -> None:
    settings_file = tmp_path / "data" / "models.json"
    models = LocalModels(settings_file)
    digests = {
        v: digest_of(tmp_path, deploy(tmp_path, models, "support-llm", v))
        for v in ("1.9.0", "1.10.0", "1.11.0")
    }
    record_inventory(migrated_store, "support-llm", digests, known_bad=("1.11.0",))
    # 1.10.0's weights were swapped on disk after the inventory recorded them.
    (tmp_path / "artifacts" / "support-llm" / "1.10.0" / "model.bin").write_bytes(b"tampered")
    action = rollback_action(migrated_store, "support-llm", provider="local")

    result = await rollback(local_activities, action)

    assert ModelState.model_validate(result.before).version == "1.11.0"
    assert ModelState.model_validate(result.after).version == "1.9.0"
    pins = json.loads(settings_file.read_text())["models"]["support-llm"]["aliases"]
    assert pins == {"production": "1.9.0"}
    changed = json.loads(settings_file.read_text())["models"]["support-llm"]["alias_changes"]
    first_change = changed["production"]["changed_at"]

    again = await rollback(local_activities, action)
    assert again.status == "completed"
    # The retry returned the record: the file was not written again.
    changed = json.loads(settings_file.read_text())["models"]["support-llm"]["alias_changes"]
    assert changed["production"]["changed_at"] == first_change

    restored = await restore(local_activities, action)
    assert restored.status == "restored"
    assert models.state("support-llm", "production").version == "1.11.0"


async def test_unknown_provider_and_model(
    local_activities: ModelActivities, migrated_store: Store
) -> None:
    with pytest.raises(ApplicationError) as unknown_provider:
        await rollback(local_activities, rollback_action(migrated_store, "m", provider="sagemaker"))
    assert unknown_provider.value.non_retryable
    assert "unknown model provider 'sagemaker'" in str(unknown_provider.value)

    with pytest.raises(ApplicationError) as unknown_model:
        await rollback(local_activities, rollback_action(migrated_store, "m", provider="local"))
    assert unknown_model.value.non_retryable
    assert "local: no model m" in str(unknown_model.value)
