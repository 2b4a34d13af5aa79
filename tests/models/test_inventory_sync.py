"""`smokejumper inventory sync mlflow|aws-iam` against a real `mlflow server` and moto_server,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from smokejumper.store.db import Store
from smokejumper.store.tables import InventoryApiKey, InventoryModel
from tests.helpers import free_port, isolate_aws
from tests.models.conftest import (
    SERVER_START_TIMEOUT,
    MlflowServer,
    digest_of,
    model_files,
    unique_model,
)

pytestmark = SERVER_START_TIMEOUT


def sync(database_url: str, *args: str, **env: str) -> Result:
    return CliRunner().invoke(
        app,
        ["inventory", "sync", *args],
        env={"SMOKEJUMPER_DATABASE_URL": database_url, **env},
    )


def listing(database_url: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app, ["inventory", "list", "--json"], env={"SMOKEJUMPER_DATABASE_URL": database_url}
    )
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def versions_of(database_url: str, model: str) -> dict[str, dict[str, Any]]:
    return {v["version"]: v for v in listing(database_url)["model_versions"] if v["model"] == model}


def test_mlflow_sync_records_versions_digests_and_aliases(
    mlflow_server: MlflowServer, migrated_store: Store, database_url: str, tmp_path: Path
) -> None:
    model = unique_model("support")
    files = [model_files(f"{model}-v{n}") for n in (1, 2)]
    mlflow_server.register(model, files)
    mlflow_server.set_alias(model, "production", "2")
    mlflow_server.set_alias(model, "champion", "2")
    env = {"SMOKEJUMPER_CONTAINMENT__MLFLOW__TRACKING_URI": mlflow_server.url}

    first = sync(database_url, "mlflow", "--json", "--prefix", model, **env)

    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["counts"]["models"] == {"created": 1, "updated": 0, "unchanged": 0}
    assert report["hashed"] == 2
    assert report["drift"] == []
    versions = versions_of(database_url, model)
    assert set(versions) == {"1", "2"}
    # The digest of the registry's artifacts is the digest of the same files on disk.
    assert versions["1"]["digest"] == digest_of(tmp_path, files[0])
    assert versions["2"]["digest"] == digest_of(tmp_path, files[1])
    assert versions["2"]["aliases"] == ["champion", "production"]
    assert versions["1"]["aliases"] == []
    assert versions["1"]["status"] == "active"

    # Nothing changed in the registry: nothing changes in the inventory, nothing is hashed.
    second = sync(database_url, "mlflow", "--json", "--prefix", model, **env)
    assert second.exit_code == 0, second.output
    again = json.loads(second.output)
    assert again["hashed"] == 0
    assert {k: c["created"] + c["updated"] for k, c in again["counts"].items()} == {
        "models": 0,
        "model_versions": 0,
        "api_keys": 0,
    }

    # The alias moves back: the sync follows it.
    mlflow_server.set_alias(model, "production", "1")
    moved = sync(database_url, "mlflow", "--prefix", model, **env)
    assert moved.exit_code == 0, moved.output
    versions = versions_of(database_url, model)
    assert versions["1"]["aliases"] == ["production"]
    assert versions["2"]["aliases"] == ["champion"]


def test_mlflow_rehash_reports_drift_and_keeps_the_recorded_digest(
    mlflow_server: MlflowServer, migrated_store: Store, database_url: str, tmp_path: Path
) -> None:
    model = unique_model("drift")
    files = model_files(f"{model}-v1")
    mlflow_server.register(model, [files])
    env = {"SMOKEJUMPER_CONTAINMENT__MLFLOW__TRACKING_URI": mlflow_server.url}
    assert sync(database_url, "mlflow", "--prefix", model, **env).exit_code == 0
    mlflow_server.upload(mlflow_server.version_path(model, "1"), {"model.bin": b"swapped"})

    plain = sync(database_url, "mlflow", "--prefix", model, **env)
    assert plain.exit_code == 0, plain.output  # without --rehash, recorded digests are trusted
    rehashed = sync(database_url, "mlflow", "--rehash", "--prefix", model, **env)

    assert rehashed.exit_code == 1
    assert f"digest drift: {model}@1: artifacts hash to sha256:" in rehashed.output
    assert versions_of(database_url, model)["1"]["digest"] == digest_of(tmp_path, files)


def test_mlflow_sync_keeps_what_an_imported_file_set(
    mlflow_server: MlflowServer, migrated_store: Store, database_url: str, tmp_path: Path
) -> None:
    model = unique_model("owned")
    mlflow_server.register(model, [model_files(f"{model}-v1")])
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        f"models:\n  - name: {model}\n    provider: mlflow\n    owner: ml-platform@example.com\n"
    )
    imported = CliRunner().invoke(
        app,
        ["inventory", "import", str(inventory)],
        env={"SMOKEJUMPER_DATABASE_URL": database_url},
    )
    assert imported.exit_code == 0, imported.output

    synced = sync(
        database_url,
        "mlflow",
        **{"SMOKEJUMPER_CONTAINMENT__MLFLOW__TRACKING_URI": mlflow_server.url},
    )

    assert synced.exit_code == 0, synced.output
    with migrated_store.session() as session:
        row = session.query(InventoryModel).filter_by(name=model).one()
    assert (row.owner, row.provider, row.registry_ref) == (
        "ml-platform@example.com",
        "mlflow",
        f"models:/{model}",
    )


def test_mlflow_sync_errors_are_clear(database_url: str, migrated_store: Store) -> None:
    unset = sync(database_url, "mlflow", MLFLOW_TRACKING_URI="")
    assert unset.exit_code == 2
    assert "containment.mlflow.tracking_uri" in unset.output

    unknown = sync(database_url, "sagemaker")
    assert unknown.exit_code == 2
    assert "unknown source 'sagemaker'; one of mlflow, aws-iam" in unknown.output

    down = sync(
        database_url,
        "mlflow",
        "--prefix",
        "x",
        SMOKEJUMPER_CONTAINMENT__MLFLOW__TRACKING_URI=f"http://127.0.0.1:{free_port()}",
    )
    assert down.exit_code == 1
    assert "ConnectError" in down.output


@pytest.fixture
def iam(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    isolate_aws(monkeypatch, tmp_path, "IAM")
    return boto3.session.Session().client("iam", endpoint_url=moto_server)


def test_aws_iam_sync_lists_keys_without_secrets(
    iam: Any, moto_server: str, migrated_store: Store, database_url: str
) -> None:
    user = f"svc-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=user)
    created = [iam.create_access_key(UserName=user)["AccessKey"] for _ in range(2)]
    ids = [str(k["AccessKeyId"]) for k in created]
    iam.update_access_key(UserName=user, AccessKeyId=ids[1], Status="Inactive")
    env = {"SMOKEJUMPER_CONTAINMENT__AWS_ENDPOINT_URL": moto_server}

    first = sync(database_url, "aws-iam", "--prefix", user, **env)

    assert first.exit_code == 0, first.output
    keys = {k["key_id"]: k for k in listing(database_url)["api_keys"] if k["key_id"] in ids}
    assert {k: (v["provider"], v["status"]) for k, v in keys.items()} == {
        ids[0]: ("aws_iam", "active"),
        ids[1]: ("aws_iam", "inactive"),
    }
    with migrated_store.session() as session:
        owners = {
            r.key_id: r.owner
            for r in session.query(InventoryApiKey).filter(InventoryApiKey.key_id.in_(ids))
        }
    assert owners == {ids[0]: user, ids[1]: user}
    everything = first.output + json.dumps(listing(database_url))
    for key in created:
        assert key["SecretAccessKey"] not in everything

    iam.update_access_key(UserName=user, AccessKeyId=ids[0], Status="Inactive")
    second = sync(database_url, "aws-iam", "--json", "--prefix", user, **env)
    assert second.exit_code == 0, second.output
    assert json.loads(second.output)["counts"]["api_keys"]["updated"] == 1
    keys = {k["key_id"]: k for k in listing(database_url)["api_keys"] if k["key_id"] in ids}
    assert keys[ids[0]]["status"] == "inactive"


def test_an_entry_the_inventory_cannot_name_is_skipped_not_fatal(
    mlflow_server: MlflowServer, migrated_store: Store, database_url: str
) -> None:
    good = unique_model("churn")
    odd = f"{good} (old)"
    mlflow_server.register(odd, [model_files(odd)])
    mlflow_server.register(good, [model_files(good)])

    result = sync(
        database_url,
        "mlflow",
        "--prefix",
        good,
        SMOKEJUMPER_CONTAINMENT__MLFLOW__TRACKING_URI=mlflow_server.url,
    )

    assert result.exit_code == 0, result.output
    assert f"warning: skipped model {odd!r}: name: String should match pattern" in result.output
    models = {v["model"] for v in listing(database_url)["model_versions"]}
    assert good in models
    assert odd not in models
