"""`model-extraction` keeps the query log before it throttles or blocks, end to end: the
application's gateway log (JSONL files, or objects under an S3 prefix on `moto_server`)
is read for the principal's requests in the extraction window and kept as evidence; a log
that cannot be read is a follow-up, and the throttle goes ahead anyway."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.helpers import isolate_aws
from tests.playbooks.conftest import Responder, responder_on
from tests.playbooks.test_model_extraction import extraction

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SECRET = "sj_live_9f8e7d6c5b4a39281706"


def request_line(minutes_ago: float, key: str, prompt: str) -> bytes:
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return json.dumps(
        {"timestamp": at.isoformat(), "api_key": key, "model": "support-llm", "prompt": prompt}
    ).encode()


HARVEST = [
    request_line(9 - i, "key-partner-acme", f"probe {i}: logits for token {i}") for i in range(3)
]
NOISE = [
    request_line(5, "key-other", "hello"),
    request_line(3 * 24 * 60, "key-partner-acme", "three days ago"),
    b"{truncated",
]


def alert() -> dict[str, Any]:
    return extraction(target={"application": "support-bot", "endpoint": "support-bot-prod"})


async def kept(responder: Responder, ref: str, name: str) -> list[dict[str, Any]]:
    [item] = [e for e in responder.evidence() if e.name == name]
    assert SECRET not in (item.redacted_preview or "")
    number = (await responder.detail(ref))["id"]
    raw = await responder.engine.http.get(f"/api/v1/incidents/{number}/evidence/{item.id}/raw")
    assert raw.status_code == 200, raw.text
    return [json.loads(line) for line in raw.text.splitlines()]


def order(timeline: list[dict[str, Any]], kind: str, step: str) -> int:
    return next(i for i, e in enumerate(timeline) if e["kind"] == kind and e["step"] == step)


@pytest_asyncio.fixture
async def jsonl_engine(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[tuple[Responder, Path]]:
    log = tmp_path / "gateway" / "requests.jsonl"
    log.parent.mkdir()
    log.write_bytes(b"\n".join([*HARVEST, *NOISE]) + b"\n")
    query_logs = {"support-bot": {"source": "jsonl", "path": str(log.parent / "*.jsonl")}}
    async with responder_on(tmp_path, database_url, temporal_env, query_logs=query_logs) as r:
        yield r, log


async def test_the_window_is_kept_before_the_throttle_and_again_before_the_block(
    jsonl_engine: tuple[Responder, Path],
) -> None:
    responder, log = jsonl_engine
    ref = await responder.send(alert())
    await responder.wait_for(ref, "step.completed", step="throttle principal")
    records = await kept(responder, ref, "query-log")
    assert [r["prompt"] for r in records] == [
        "probe 0: logits for token 0",
        "probe 1: logits for token 1",
        "probe 2: logits for token 2",
    ]
    timeline = (await responder.detail(ref))["timeline"]
    assert order(timeline, "query_log.kept", "keep query log") < order(
        timeline, "step.started", "throttle principal"
    )
    note = next(e for e in timeline if e["kind"] == "query_log.kept")
    assert "kept 3 of the principal's 3 requests" in note["message"]
    assert "jsonl query log; 1 unreadable line(s)" in note["message"]

    # It carries on, with a key in its prompt: kept again, up to the block.
    with log.open("ab") as handle:
        handle.write(request_line(0, "key-partner-acme", f"my key is {SECRET}") + b"\n")
    await responder.send(alert())
    await responder.wait_for(ref, "playbook.finished")
    later = await kept(responder, ref, "query-log-before-block")
    assert len(later) == 4 and SECRET in later[-1]["prompt"]
    timeline = (await responder.detail(ref))["timeline"]
    assert order(timeline, "step.started", "keep query log") < order(
        timeline, "step.started", "block principal"
    )
    markdown = await responder.report(ref)
    assert "query-log-before-block" in markdown and SECRET not in markdown


@pytest.mark.slow
async def test_an_s3_prefix_and_a_log_that_cannot_be_read(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate_aws(monkeypatch, tmp_path, "S3")
    bucket = f"gateway-{uuid.uuid4().hex[:10]}"
    client = boto3.client("s3", endpoint_url=moto_server)
    client.create_bucket(Bucket=bucket)
    body = gzip.compress(b"\n".join([*HARVEST, *NOISE]))
    client.put_object(Bucket=bucket, Key="logs/support-bot/part-0001.jsonl.gz", Body=body)
    s3 = {"source": "s3", "s3_bucket": bucket, "s3_prefix": "logs/support-bot/"}
    query_logs = {
        "support-bot": {**s3, "s3_endpoint_url": moto_server},
        "billing-bot": {**s3, "s3_bucket": f"{bucket}-gone", "s3_endpoint_url": moto_server},
    }
    async with responder_on(
        tmp_path, database_url, temporal_env, query_logs=query_logs
    ) as responder:
        ref = await responder.send(alert())
        await responder.wait_for(ref, "step.completed", step="throttle principal")
        records = await kept(responder, ref, "query-log")
        assert len(records) == 3 and {r["api_key"] for r in records} == {"key-partner-acme"}

        other = extraction(
            target={"application": "billing-bot"},
            dedup_key="extraction:billing",
            principal={"api_key_id": "key-billing-1"},
        )
        gone = await responder.send(other)
        await responder.wait_for(gone, "step.completed", step="throttle principal")
        left = await responder.wait_for(gone, "follow_up")
        assert "Keep the query log of api_key key-billing-1" in left["message"]
        assert "NoSuchBucket" in left["message"]
