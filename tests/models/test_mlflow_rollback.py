"""Rolling back an MLflow serving alias through the activities, against a real `mlflow server`."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.models import ROLLBACK, ModelActivities
from integrations.models.base import ModelState
from smokejumper.store.db import Store
from tests.helpers import free_port
from tests.models.conftest import (
    SERVER_START_TIMEOUT,
    MlflowServer,
    digest_of,
    mlflow_settings,
    model_files,
    record_inventory,
    restore,
    rollback,
    rollback_action,
    row_of,
    unique_model,
)

pytestmark = SERVER_START_TIMEOUT


def three_versions(
    mlflow_server: MlflowServer, store: Store, tmp_path: Path, *, tamper_v2: bool
) -> str:
    """Versions 1, 2 and 3 with their digests in the inventory, 3 (the suspect) serving as
    @production. With `tamper_v2`, version 2's weights are changed after the inventory
    recorded them, so it is no longer a version to roll back to."""
    model = unique_model()
    files = [model_files(f"{model}-v{n}") for n in (1, 2, 3)]
    versions = mlflow_server.register(model, files)
    assert versions == ["1", "2", "3"]
    record_inventory(
        store,
        model,
        {v: digest_of(tmp_path, f) for v, f in zip(versions, files, strict=True)},
        known_bad=("3",),
    )
    if tamper_v2:
        mlflow_server.upload(
            mlflow_server.version_path(model, "2"), {"model.bin": b"backdoored weights"}
        )
    mlflow_server.set_alias(model, "production", "3")
    return model


async def test_rollback_moves_the_alias_to_the_last_known_good_version_once(
    mlflow_server: MlflowServer,
    mlflow_activities: ModelActivities,
    migrated_store: Store,
    tmp_path: Path,
) -> None:
    model = three_versions(mlflow_server, migrated_store, tmp_path, tamper_v2=True)
    action = rollback_action(migrated_store, model)
    writes = mlflow_server.alias_writes()

    result = await rollback(mlflow_activities, action)

    # Version 2 is newer, but its artifacts no longer hash to what the inventory records.
    assert mlflow_server.alias(model, "production") == "1"
    assert mlflow_server.alias_writes() == writes + 1
    assert result.business_key == f"{action.incident_id}:rollback_model:mlflow:{model}@production"
    assert (result.action, result.status, result.verified, result.reversible) == (
        ROLLBACK,
        "completed",
        True,
        True,
    )
    assert ModelState.model_validate(result.before).version == "3"
    after = ModelState.model_validate(result.after)
    assert after.version == "1"
    assert after.details["rolled_back_from"] == "3"
    assert after.details["digest"].startswith("sha256:")
    assert [p["version"] for p in after.details["passed_over"]] == ["2"]
    assert "differs" in after.details["passed_over"][0]["why"]

    # A retry (or the step run again) returns the record without touching the registry.
    again = await rollback(mlflow_activities, action)
    assert again.status == "completed"
    assert mlflow_server.alias_writes() == writes + 1

    restored = await restore(mlflow_activities, action)
    assert mlflow_server.alias(model, "production") == "3"
    assert restored.status == "restored"
    assert restored.restored_at is not None
    assert mlflow_server.alias_writes() == writes + 2
    await restore(mlflow_activities, action)
    assert mlflow_server.alias_writes() == writes + 2


async def test_newest_earlier_good_version_wins(
    mlflow_server: MlflowServer,
    mlflow_activities: ModelActivities,
    migrated_store: Store,
    tmp_path: Path,
) -> None:
    model = three_versions(mlflow_server, migrated_store, tmp_path, tamper_v2=False)
    result = await rollback(mlflow_activities, rollback_action(migrated_store, model))
    assert ModelState.model_validate(result.after).version == "2"
    assert mlflow_server.alias(model, "production") == "2"


async def test_a_resumed_attempt_does_not_move_the_alias_again(
    mlflow_server: MlflowServer,
    mlflow_activities: ModelActivities,
    migrated_store: Store,
    tmp_path: Path,
) -> None:
    """The worker died after moving the alias but before completing the row: the retry finds
    the row started, looks at the alias, and completes without another registry write."""
    model = three_versions(mlflow_server, migrated_store, tmp_path, tamper_v2=False)
    action = rollback_action(migrated_store, model)
    row = mlflow_activities._claim(
        ROLLBACK, action.incident_id, action.step, "mlflow", action.target, action.business_key
    )
    before = mlflow_activities.models.get("mlflow").state(model, "production")
    mlflow_activities._record_before(row.business_key, before)
    mlflow_server.set_alias(model, "production", "2")  # the call the dead worker made
    writes = mlflow_server.alias_writes()

    result = await rollback(mlflow_activities, action)

    assert mlflow_server.alias_writes() == writes
    assert result.status == "completed"
    assert ModelState.model_validate(result.before).version == "3"
    assert row_of(migrated_store, action).attempts == 2
    await restore(mlflow_activities, action)
    assert mlflow_server.alias(model, "production") == "3"


async def test_no_known_good_version_fails_without_retry(
    mlflow_server: MlflowServer,
    mlflow_activities: ModelActivities,
    migrated_store: Store,
    tmp_path: Path,
) -> None:
    model = unique_model()
    files = [model_files(f"{model}-v{n}") for n in (1, 2)]
    mlflow_server.register(model, files)
    # The inventory knows only version 2, the one being rolled back from.
    record_inventory(migrated_store, model, {"2": digest_of(tmp_path, files[1])})
    mlflow_server.set_alias(model, "production", "2")
    action = rollback_action(migrated_store, model)
    writes = mlflow_server.alias_writes()

    with pytest.raises(ApplicationError) as failure:
        await rollback(mlflow_activities, action)

    assert failure.value.non_retryable
    assert "no known good version" in str(failure.value)
    assert "1 (not known good in the inventory)" in str(failure.value)
    assert mlflow_server.alias(model, "production") == "2"
    assert mlflow_server.alias_writes() == writes
    row = row_of(migrated_store, action)
    assert row.status == "failed"
    assert row.error is not None and "no known good version" in row.error


async def test_explicit_version_must_match_the_inventory(
    mlflow_server: MlflowServer,
    mlflow_activities: ModelActivities,
    migrated_store: Store,
    tmp_path: Path,
) -> None:
    model = three_versions(mlflow_server, migrated_store, tmp_path, tamper_v2=True)
    action = rollback_action(migrated_store, model).model_copy(update={"to_version": "2"})
    with pytest.raises(ApplicationError) as failure:
        await rollback(mlflow_activities, action)
    assert failure.value.non_retryable
    assert "the inventory records" in str(failure.value)
    assert mlflow_server.alias(model, "production") == "3"


async def test_unknown_model_and_missing_alias_fail_without_retry(
    mlflow_server: MlflowServer,
    mlflow_activities: ModelActivities,
    migrated_store: Store,
    tmp_path: Path,
) -> None:
    with pytest.raises(ApplicationError) as missing_model:
        await rollback(mlflow_activities, rollback_action(migrated_store, unique_model()))
    assert missing_model.value.non_retryable
    assert "RESOURCE_DOES_NOT_EXIST" in str(missing_model.value)

    model = unique_model()
    mlflow_server.register(model, [model_files("a")])
    with pytest.raises(ApplicationError) as no_alias:
        await rollback(mlflow_activities, rollback_action(migrated_store, model))
    assert no_alias.value.non_retryable
    assert "points at no version" in str(no_alias.value)


async def test_restore_leaves_an_alias_someone_moved_since(
    mlflow_server: MlflowServer,
    mlflow_activities: ModelActivities,
    migrated_store: Store,
    tmp_path: Path,
) -> None:
    model = three_versions(mlflow_server, migrated_store, tmp_path, tamper_v2=False)
    action = rollback_action(migrated_store, model)
    await rollback(mlflow_activities, action)
    # The ML team shipped a fixed version meanwhile; restoring must not undo their deploy.
    mlflow_server.register_version(model, model_files(f"{model}-v4"))
    mlflow_server.set_alias(model, "production", "4")

    with pytest.raises(ApplicationError) as refused:
        await restore(mlflow_activities, action)

    assert refused.value.non_retryable
    assert "not restoring over that" in str(refused.value)
    assert mlflow_server.alias(model, "production") == "4"
    assert row_of(migrated_store, action).restored_at is None


async def test_unreachable_registry_is_retryable(
    migrated_store: Store, tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    activities = ModelActivities(
        migrated_store, mlflow_settings(tmp_path, f"http://127.0.0.1:{free_port()}")
    )
    action = rollback_action(migrated_store, unique_model())
    with pytest.raises(ApplicationError) as failure:
        await rollback(activities, action)
    assert not failure.value.non_retryable
    row = row_of(migrated_store, action)
    assert row.status == "started"
    assert row.error is not None and "ConnectError" in row.error
