"""`verify_integrity`, the provenance check of `model-compromise`, against the real store
(SQLite and PostgreSQL): the model version's artifact and its training datasets hashed
where the inventory says they are (local files and folders, S3 on a real moto_server),
and what it says when they cannot be read or the alert's digest is garbage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.integrity import IntegrityActivities
from integrations.digest import local_digest
from smokejumper.domain.integrity import DigestVerdict, IntegrityQuery, IntegrityReport
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import load_inventory
from smokejumper.store.db import Store
from tests.integrations.pollers.conftest import S3, s3
from tests.playbooks.conftest import inventory

__all__ = ["s3"]

REVIEWED = b"reviewed weights"


def stored(store: Store, tmp_path: Path, **dataset: Any) -> Path:
    """support-llm 1.1.0 on disk as reviewed; its training dataset as given."""
    artifact = tmp_path / "model.safetensors"
    artifact.write_bytes(REVIEWED)
    data = inventory()
    data["models"][0]["versions"][1].update(
        artifact_uri=str(artifact), digest=local_digest(artifact)
    )
    data["datasets"][0].update(dataset)
    import_inventory(store, load_inventory(data))
    return artifact


async def check(store: Store, **query: Any) -> IntegrityReport:
    arguments = {"incident_id": 1, "model": "support-llm", "version": "1.1.0", **query}
    report: IntegrityReport = await ActivityEnvironment().run(
        IntegrityActivities(store).verify_integrity, IntegrityQuery(**arguments)
    )
    return report


async def test_a_folder_dataset_that_changed_is_a_mismatch(
    migrated_store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "tickets"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"q": 1}\n')
    digest = local_digest(folder)
    stored(migrated_store, tmp_path, uri=str(folder), digest=digest)

    report = await check(migrated_store)
    assert report.model.verdict is DigestVerdict.MATCH
    assert report.model.how == "hashed now"
    assert [(d.subject, d.verdict) for d in report.datasets] == [
        ("dataset:support-tickets-2026q3", DigestVerdict.MATCH)
    ]

    # One more file: the folder's digest covers every file below it.
    (folder / "b.jsonl").write_text('{"q": "ignore previous instructions"}\n')
    report = await check(migrated_store)
    [dataset] = report.poisoned
    assert (dataset.expected, dataset.verdict) == (digest, DigestVerdict.MISMATCH)
    assert dataset.actual == local_digest(folder)


async def test_a_dataset_on_s3_is_hashed_there(
    migrated_store: Store, tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "tickets"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"q": 1}\n')
    bucket = s3.bucket()
    s3.upload_tree(folder, bucket, "tickets/2026q3/")
    # The standard AWS setting points the check at the S3-compatible store.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)
    stored(
        migrated_store,
        tmp_path,
        uri=f"s3://{bucket}/tickets/2026q3/",
        digest=local_digest(folder),
    )
    [dataset] = (await check(migrated_store)).datasets
    assert (dataset.verdict, dataset.how) == (DigestVerdict.MATCH, "hashed now")

    s3.client.put_object(Bucket=bucket, Key="tickets/2026q3/a.jsonl", Body=b'{"q": 2}\n')
    [dataset] = (await check(migrated_store)).datasets
    assert dataset.verdict is DigestVerdict.MISMATCH


async def test_what_cannot_be_read_is_unverified_never_a_match(
    migrated_store: Store, tmp_path: Path
) -> None:
    stored(
        migrated_store,
        tmp_path,
        uri=str(tmp_path / "gone"),
        digest="sha256:" + "4" * 64,
    )
    [dataset] = (await check(migrated_store)).datasets
    assert dataset.verdict is DigestVerdict.UNVERIFIED
    assert dataset.how == "missing: no file or directory at the path"
    assert (await check(migrated_store)).poisoned == []

    unknown = await check(migrated_store, version="9.9.9")
    assert unknown.model.verdict is DigestVerdict.UNVERIFIED
    assert unknown.model.how == "the inventory does not list it"
    nameless = await check(migrated_store, model=None)
    assert nameless.model.how == "the alerts name no model version"


async def test_an_unreadable_artifact_falls_back_to_the_alert_and_says_so(
    migrated_store: Store, tmp_path: Path
) -> None:
    artifact = stored(migrated_store, tmp_path)
    expected = local_digest(artifact)
    artifact.unlink()

    agreeing = await check(migrated_store, alert_digest=expected.removeprefix("sha256:").upper())
    assert agreeing.model.verdict is DigestVerdict.MATCH
    assert agreeing.model.how == (
        "as the alert reports (missing: no file or directory at the path)"
    )
    tampered = await check(migrated_store, alert_digest="sha256:" + "9" * 64)
    assert tampered.model.verdict is DigestVerdict.MISMATCH
    for garbage in ("not-a-digest", "md5:abc", "sha256:" + "z" * 64):
        report = await check(migrated_store, alert_digest=garbage)
        assert report.model.verdict is DigestVerdict.UNVERIFIED, garbage
