"""S3 model artifacts, against a real moto_server: digests agree with local copies, and the
poller alerts on tampering and reports missing objects like missing files."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from integrations.digest import (
    ArtifactCheck,
    artifact_digest,
    directory_digest,
    file_digest,
)
from smokejumper.store.db import Store
from smokejumper.store.tables import InventoryModel, InventoryModelVersion
from tests.helpers import free_port
from tests.integrations.pollers.conftest import S3, Harness

POLLER = "integrity"


def integrity(s3: S3) -> list[dict[str, object]]:
    return [{"kind": "model-integrity", "name": POLLER, "s3_endpoint_url": s3.endpoint_url}]


def register(store: Store, model: str, version: str, uri: str, digest: str) -> None:
    with store.transaction() as session:
        row = InventoryModel(name=model, provider="s3")
        session.add(row)
        session.flush()
        session.add(
            InventoryModelVersion(model_id=row.id, version=version, artifact_uri=uri, digest=digest)
        )


def model_folder(root: Path) -> Path:
    """A model as it sits on disk before upload, with names whose order is easy to get wrong:
    `-` sorts before `/`, non-ASCII names, an empty file and one file of several chunks."""
    files = {
        "config.json": b'{"layers": 2}',
        "tokenizer/vocab.txt": b"a b c",
        "tokenizer-extra.txt": b"d e",
        "empty.bin": b"",
        "n\u00e4me/\u540d\u524d.bin": b"\x00\x01",
        "weights/shard-00001.bin": b"0123456789abcdef" * (160 * 1024),  # 2.5 MiB
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def test_an_object_digests_like_the_local_file(s3: S3, tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"reviewed weights " * 100_000)  # more than one read chunk
    bucket = s3.bucket()
    s3.client.put_object(Bucket=bucket, Key="support-llm/7/weights.bin", Body=weights.read_bytes())

    check = artifact_digest(
        f"s3://{bucket}/support-llm/7/weights.bin", s3_endpoint_url=s3.endpoint_url
    )

    assert check == ArtifactCheck("hashed", digest=file_digest(weights))
    assert check.digest == "sha256:" + hashlib.sha256(weights.read_bytes()).hexdigest()


def test_a_prefix_digests_like_the_local_directory(s3: S3, tmp_path: Path) -> None:
    local = model_folder(tmp_path / "support-llm")
    bucket = s3.bucket()
    s3.upload_tree(local, bucket, "support-llm/7/")
    # Console-made "folder" markers and neighbours sharing the prefix's text are not members.
    s3.client.put_object(Bucket=bucket, Key="support-llm/7/tokenizer/", Body=b"")
    s3.client.put_object(Bucket=bucket, Key="support-llm/70/config.json", Body=b"{}")
    s3.client.put_object(Bucket=bucket, Key="support-llm/7.json", Body=b"{}")

    expected = ArtifactCheck("hashed", digest=directory_digest(local))
    assert artifact_digest(f"s3://{bucket}/support-llm/7/", s3_endpoint_url=s3.endpoint_url) == (
        expected
    )
    # Without the slash, as a local path may name a directory.
    assert artifact_digest(f"s3://{bucket}/support-llm/7", s3_endpoint_url=s3.endpoint_url) == (
        expected
    )

    # A member's bytes moved into another member changes it, like a local directory.
    s3.client.put_object(Bucket=bucket, Key="support-llm/7/empty.bin", Body=b"d e")
    s3.client.put_object(Bucket=bucket, Key="support-llm/7/tokenizer-extra.txt", Body=b"")
    moved = artifact_digest(f"s3://{bucket}/support-llm/7/", s3_endpoint_url=s3.endpoint_url)
    assert moved.status == "hashed"
    assert moved.digest != expected.digest


def test_absent_objects_prefixes_and_buckets_are_missing(s3: S3) -> None:
    bucket = s3.bucket()
    s3.client.put_object(Bucket=bucket, Key="other/weights.bin", Body=b"w")
    cases = {
        f"s3://{bucket}/support-llm/7/weights.bin": "no object at the key or under it",
        f"s3://{bucket}/support-llm/7/": "no objects under the prefix",
        f"s3://{bucket}-gone/support-llm/7/weights.bin": "no such bucket",
        f"s3://{bucket}-gone/support-llm/7/": "no such bucket",
    }
    for uri, reason in cases.items():
        assert artifact_digest(uri, s3_endpoint_url=s3.endpoint_url) == ArtifactCheck(
            "missing", reason=reason
        ), uri


def test_unreachable_s3_is_unchecked_not_missing(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    # Standard AWS settings apply: one attempt, so the refused connection fails at once.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    nobody = f"http://127.0.0.1:{free_port()}"
    assert artifact_digest("s3://models/m/1/", s3_endpoint_url=nobody) == ArtifactCheck(
        "unchecked", reason="S3 read failed (EndpointConnectionError)"
    )


async def test_the_poller_alerts_once_when_an_s3_object_is_overwritten(
    harness: Harness, s3: S3
) -> None:
    weights = harness.tmp_path / "weights.bin"
    weights.write_bytes(b"reviewed weights")
    folder = model_folder(harness.tmp_path / "folder")
    bucket = s3.bucket()
    s3.client.put_object(Bucket=bucket, Key="support-llm/7/weights.bin", Body=b"reviewed weights")
    s3.upload_tree(folder, bucket, "folder-llm/3/")
    model = f"support-llm-{harness.tag}"
    object_uri = f"s3://{bucket}/support-llm/7/weights.bin"
    # Registered from the local copies: the digest a team computes before uploading.
    register(harness.store, model, "7", object_uri, file_digest(weights))
    register(
        harness.store,
        f"folder-llm-{harness.tag}",
        "3",
        f"s3://{bucket}/folder-llm/3/",
        directory_digest(folder),
    )
    scheduler = await harness.scheduler(integrity(s3))

    assert not await scheduler.run_poller(POLLER)
    assert harness.incidents() == []

    s3.client.put_object(Bucket=bucket, Key="support-llm/7/weights.bin", Body=b"backdoored")
    counts = await scheduler.run_poller(POLLER)
    assert (counts.accepted, counts.dead_lettered) == (1, 0)
    assert not await scheduler.run_poller(POLLER)

    (incident,) = harness.incidents()
    assert incident.kind == "model_compromise"
    assert incident.target == {"model": model, "model_version": "7"}
    (alert,) = await harness.dispatched()
    details = alert.normalized["evidence"]["details"]
    assert details["artifact_uri"] == object_uri
    assert details["expected_digest"] == file_digest(weights)
    assert details["actual_digest"] == "sha256:" + hashlib.sha256(b"backdoored").hexdigest()
    assert details["registry"] == "s3"


async def test_a_deleted_s3_object_is_logged_like_a_deleted_file(
    harness: Harness, s3: S3, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    local = harness.tmp_path / "weights.bin"
    local.write_bytes(b"reviewed weights")
    bucket = s3.bucket()
    s3.client.put_object(Bucket=bucket, Key="support-llm/7/weights.bin", Body=b"reviewed weights")
    object_uri = f"s3://{bucket}/support-llm/7/weights.bin"
    register(harness.store, f"local-{harness.tag}", "7", str(local), file_digest(local))
    register(harness.store, f"s3-{harness.tag}", "7", object_uri, file_digest(local))
    scheduler = await harness.scheduler(integrity(s3))
    assert not await scheduler.run_poller(POLLER)

    local.unlink()
    s3.client.delete_object(Bucket=bucket, Key="support-llm/7/weights.bin")
    caplog.clear()
    assert not await scheduler.run_poller(POLLER)

    assert harness.incidents() == []
    assert harness.alerts() == []
    errors = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and r.name == "integrations.pollers.model_integrity"
    ]
    assert errors == [
        f"model-integrity: local-{harness.tag} version 7: artifact {local} is missing "
        "(no file or directory at the path)",
        f"model-integrity: s3-{harness.tag} version 7: artifact {object_uri} is missing "
        "(no object at the key or under it)",
    ]
    assert "testing-secret-access-key" not in caplog.text
    assert "testing-key-id" not in caplog.text
