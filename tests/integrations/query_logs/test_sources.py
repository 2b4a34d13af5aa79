"""Query logs read as gateways and shippers write them: JSONL files (plain, gzip, a glob,
rotated) and objects under an S3 prefix on a real `moto_server`. Only the principal's
records in the window are chosen; unreadable lines are counted, never fatal."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from integrations.query_logs.base import QueryLogError, parse_time, select
from integrations.query_logs.jsonl import JsonlQueryLog
from integrations.query_logs.s3 import S3QueryLog
from tests.helpers import isolate_aws

NOW = datetime.now(UTC).replace(microsecond=0)
START, END = NOW - timedelta(hours=1), NOW


def record(minutes_ago: float, key: str, prompt: str = "list your weights", **more: Any) -> bytes:
    at = (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")
    return json.dumps({"timestamp": at, "api_key": key, "prompt": prompt, **more}).encode()


def choose(lines: Any, **overrides: Any) -> Any:
    options: dict[str, Any] = {
        "start": START,
        "end": END,
        "timestamp_field": "timestamp",
        "principal_field": "api_key",
        "principal": "key-acme",
        "limit": 100,
    }
    options.update(overrides)
    return select(lines, **options)


def test_only_the_principals_records_in_the_window_are_chosen() -> None:
    lines = [
        record(10, "key-acme"),
        record(5, "key-other"),
        record(24 * 60, "key-acme"),  # a day before the window
        b"not json at all",
        json.dumps({"api_key": "key-acme"}).encode(),  # no time
        record(1, "key-acme", prompt="and the next layer"),
    ]
    chosen = choose(lines)
    assert chosen.records == [lines[0], lines[5]]
    assert (chosen.scanned, chosen.matched, chosen.unreadable) == (3, 2, 2)
    # Beyond the limit the records are counted, not kept.
    limited = choose(lines, limit=1)
    assert (len(limited.records), limited.matched) == (1, 2)


def test_times_as_gateways_write_them() -> None:
    epoch = NOW.timestamp()
    assert parse_time(epoch) == NOW
    assert parse_time(epoch * 1000) == NOW  # milliseconds
    assert parse_time(NOW.isoformat().replace("+00:00", "Z")) == NOW
    assert parse_time(NOW.replace(tzinfo=None).isoformat()) == NOW  # naive: UTC
    assert parse_time("yesterday") is None and parse_time(True) is None
    assert parse_time(1e30) is None
    nested = [json.dumps({"meta": {"at": epoch, "key": "key-acme"}}).encode()]
    chosen = choose(nested, timestamp_field="meta.at", principal_field="meta.key")
    assert chosen.records == nested


def test_jsonl_files_plain_gzip_and_rotated(tmp_path: Path) -> None:
    logs = tmp_path / "gateway"
    logs.mkdir()
    current = [record(3, "key-acme"), record(2, "key-other")]
    (logs / "requests.jsonl").write_bytes(b"\n".join(current) + b"\n\n")
    rotated = [record(30, "key-acme")]
    (logs / "requests.1.jsonl.gz").write_bytes(gzip.compress(b"\n".join(rotated)))
    old = logs / "requests.2.jsonl"
    old.write_bytes(record(5, "key-acme") + b"\n")
    # Last written two days ago: it cannot hold the window's records, and is not read.
    two_days = (NOW - timedelta(days=2)).timestamp()
    os.utime(old, (two_days, two_days))

    source = JsonlQueryLog(str(logs / "requests*.jsonl*"))
    chosen = choose(source.lines(START))
    assert sorted(chosen.records) == sorted([current[0], rotated[0]])

    with pytest.raises(QueryLogError, match="no query log file matches") as missing:
        list(JsonlQueryLog(str(tmp_path / "absent" / "*.jsonl")).lines(START))
    assert not missing.value.retryable


def test_a_truncated_gzip_is_a_retryable_read_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(record(1, "key-acme") * 50)[:40])
    with pytest.raises(QueryLogError, match="cannot read") as raised:
        list(JsonlQueryLog(str(path)).lines(START))
    assert raised.value.retryable


@pytest.fixture
def bucket(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    isolate_aws(monkeypatch, tmp_path, "S3")
    name = f"gateway-logs-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server).create_bucket(Bucket=name)
    return name


def test_s3_objects_under_the_prefix_plain_and_gzip(moto_server: str, bucket: str) -> None:
    client = boto3.client("s3", endpoint_url=moto_server)
    plain = [record(4, "key-acme"), record(4, "key-other")]
    packed = [record(20, "key-acme")]
    client.put_object(Bucket=bucket, Key="gw/2026/12/05/a.jsonl", Body=b"\n".join(plain))
    body = gzip.compress(b"\n".join(packed))
    client.put_object(Bucket=bucket, Key="gw/2026/12/05/b.jsonl.gz", Body=body)
    client.put_object(Bucket=bucket, Key="other/c.jsonl", Body=record(1, "key-acme"))

    chosen = choose(S3QueryLog(bucket, "gw/", moto_server).lines(START))
    assert sorted(chosen.records) == sorted([plain[0], packed[0]])

    with pytest.raises(QueryLogError, match="NoSuchBucket") as missing:
        list(S3QueryLog(f"{bucket}-absent", "gw/", moto_server).lines(START))
    assert not missing.value.retryable
