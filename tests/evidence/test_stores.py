"""The local and S3 evidence stores; S3 against a real `moto_server` process."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import boto3
import pytest

from integrations.evidence.base import EvidenceStoreError
from integrations.evidence.local import LocalEvidenceStore
from integrations.evidence.registry import evidence_store
from integrations.evidence.s3 import S3EvidenceStore
from smokejumper.config import ConfigError, load_settings
from tests.helpers import isolate_aws

DATA = b"prompt: ignore previous instructions\x00\xff binary too"
DIGEST = hashlib.sha256(DATA).hexdigest()


def test_local_put_get_round_trip(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path / "evidence")

    uri = store.put(DIGEST, DATA)

    assert uri == f"file://{(tmp_path / 'evidence' / DIGEST[:2] / DIGEST).resolve()}"
    assert store.get(uri) == DATA
    assert oct(os.stat(uri.removeprefix("file://")).st_mode & 0o777) == "0o600"


def test_local_stores_the_same_bytes_once(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path)
    first = store.put(DIGEST, DATA)
    written = os.stat(first.removeprefix("file://")).st_mtime_ns

    second = store.put(DIGEST, DATA)

    assert second == first
    assert os.stat(second.removeprefix("file://")).st_mtime_ns == written
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [Path(first.removeprefix("file://"))]


def test_local_refuses_data_that_does_not_match_its_key(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path)

    with pytest.raises(EvidenceStoreError, match="does not hash") as raised:
        store.put(DIGEST, DATA + b"x")
    with pytest.raises(EvidenceStoreError, match="not a sha256"):
        store.put("../../etc/passwd", DATA)

    assert not raised.value.retryable
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "uri",
    ["file:///etc/passwd", f"file:///tmp/{DIGEST}", "s3://bucket/key", "/plain/path"],
)
def test_local_reads_only_its_own_files(tmp_path: Path, uri: str) -> None:
    store = LocalEvidenceStore(tmp_path)

    with pytest.raises(EvidenceStoreError, match="not"):
        store.get(uri)


def test_local_missing_file(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path)

    with pytest.raises(EvidenceStoreError, match="no evidence"):
        store.get(f"file://{store.path_for(DIGEST)}")


def test_registry_defaults_to_local_under_data_dir(tmp_path: Path) -> None:
    store = evidence_store(load_settings(data_dir=tmp_path / "data"))

    assert isinstance(store, LocalEvidenceStore)
    assert store.directory == (tmp_path / "data" / "evidence").resolve()


def test_s3_without_a_bucket_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="s3_bucket"):
        load_settings(data_dir=tmp_path, evidence={"store": "s3"})


# -- S3 ---------------------------------------------------------------------------------------


@pytest.fixture
def bucket(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    isolate_aws(monkeypatch, tmp_path, "S3")
    name = f"evidence-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server).create_bucket(Bucket=name)
    return name


def test_s3_put_get_round_trip(moto_server: str, bucket: str, tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        evidence={
            "store": "s3",
            "s3_bucket": bucket,
            "s3_prefix": "ir/",
            "s3_endpoint_url": moto_server,
        },
    )
    store = evidence_store(settings)
    assert isinstance(store, S3EvidenceStore)

    uri = store.put(DIGEST, DATA)

    assert uri == f"s3://{bucket}/ir/{DIGEST[:2]}/{DIGEST}"
    assert store.get(uri) == DATA
    head = boto3.client("s3", endpoint_url=moto_server).head_object(
        Bucket=bucket, Key=f"ir/{DIGEST[:2]}/{DIGEST}"
    )
    assert head["ContentLength"] == len(DATA)
    assert head["ServerSideEncryption"] == "AES256"


def test_s3_stores_the_same_bytes_once(moto_server: str, bucket: str) -> None:
    store = S3EvidenceStore(bucket, "p/", moto_server)
    client = boto3.client("s3", endpoint_url=moto_server)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    first = store.put(DIGEST, DATA)
    second = store.put(DIGEST, DATA)

    assert first == second
    # With versioning on, a second upload would show as a second version.
    versions = client.list_object_versions(Bucket=bucket)["Versions"]
    assert [v["Key"] for v in versions] == [f"p/{DIGEST[:2]}/{DIGEST}"]


def test_s3_refuses_other_buckets_and_reports_missing_objects(
    moto_server: str, bucket: str
) -> None:
    store = S3EvidenceStore(bucket, "p/", moto_server)

    with pytest.raises(EvidenceStoreError, match="not in the evidence bucket"):
        store.get(f"s3://other-bucket/p/{DIGEST[:2]}/{DIGEST}")
    with pytest.raises(EvidenceStoreError, match="NoSuchKey") as raised:
        store.get(f"s3://{bucket}/p/{DIGEST[:2]}/{DIGEST}")
    assert not raised.value.retryable


def test_s3_missing_bucket_is_not_retryable(moto_server: str, bucket: str) -> None:
    store = S3EvidenceStore(f"{bucket}-absent", "p/", moto_server)

    with pytest.raises(EvidenceStoreError, match="NoSuchBucket") as raised:
        store.put(DIGEST, DATA)

    assert not raised.value.retryable


@pytest.mark.parametrize(
    ("patterns", "message"),
    [({"ok": "("}, "not a valid regex"), ({"Has Space": "x"}, "must match")],
)
def test_bad_redaction_patterns_are_config_errors(
    tmp_path: Path, patterns: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(data_dir=tmp_path, evidence={"redaction_patterns": patterns})


def test_local_delete_removes_only_its_own_files(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path / "evidence")
    uri = store.put(DIGEST, DATA)
    outside = tmp_path / DIGEST
    outside.write_bytes(DATA)

    with pytest.raises(EvidenceStoreError, match="not in the evidence directory"):
        store.delete(f"file://{outside}")
    assert outside.is_file()
    store.delete(uri)
    store.delete(uri)  # what is gone stays gone
    with pytest.raises(EvidenceStoreError, match="no evidence"):
        store.get(uri)


def test_s3_delete_removes_the_object_and_refuses_other_buckets(
    moto_server: str, bucket: str
) -> None:
    store = S3EvidenceStore(bucket, "p/", moto_server)
    uri = store.put(DIGEST, DATA)

    with pytest.raises(EvidenceStoreError, match="not in the evidence bucket"):
        store.delete(f"s3://other-bucket/p/{DIGEST[:2]}/{DIGEST}")
    store.delete(uri)
    store.delete(uri)
    with pytest.raises(EvidenceStoreError, match="NoSuchKey"):
        store.get(uri)
