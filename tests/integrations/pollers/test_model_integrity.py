"""Model-integrity poller: artifacts re-hashed against the inventory's digests."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from integrations.digest import artifact_digest, directory_digest, file_digest
from smokejumper.store.cursors import load_cursor
from smokejumper.store.db import Store
from smokejumper.store.tables import InventoryModel, InventoryModelVersion
from tests.helpers import eventually
from tests.integrations.pollers.conftest import Harness

INTEGRITY = [{"kind": "model-integrity", "name": "integrity"}]


def register(store: Store, model: str, version: str, uri: str, digest: str | None) -> None:
    with store.transaction() as session:
        row = InventoryModel(name=model, provider="local")
        session.add(row)
        session.flush()
        session.add(
            InventoryModelVersion(model_id=row.id, version=version, artifact_uri=uri, digest=digest)
        )


async def test_a_tampered_artifact_opens_one_incident_once_per_digest(harness: Harness) -> None:
    weights = harness.tmp_path / "weights.bin"
    weights.write_bytes(b"reviewed weights")
    model = f"support-llm-{harness.tag}"
    reviewed = file_digest(weights)
    register(harness.store, model, "7", str(weights), reviewed)
    scheduler = await harness.scheduler(INTEGRITY)

    assert not await scheduler.run_poller("integrity")
    assert harness.incidents() == []

    weights.write_bytes(b"backdoored weights")
    assert (await scheduler.run_poller("integrity")).accepted == 1
    # Unchanged tampered content: nothing new, now or after a restart.
    assert not await scheduler.run_poller("integrity")
    scheduler = await harness.restart(scheduler)
    assert not await scheduler.run_poller("integrity")

    (incident,) = harness.incidents()
    assert incident.kind == "model_compromise"
    assert incident.severity == "critical"
    assert incident.target == {"model": model, "model_version": "7"}
    (alert,) = harness.alerts()
    assert alert.source == "model-integrity"
    details = alert.normalized["evidence"]["details"]
    assert details["expected_digest"] == reviewed
    assert details["actual_digest"] == "sha256:" + hashlib.sha256(b"backdoored weights").hexdigest()
    assert details["registry"] == "local"

    async def started() -> bool:
        return "playbook.started" in harness.timeline_kinds(incident.id)

    await eventually(started, within=30)

    # A different tampered digest is news: it joins the open incident.
    weights.write_bytes(b"backdoored again")
    assert (await scheduler.run_poller("integrity")).accepted == 1
    assert len(harness.incidents()) == 1
    assert [a.deduplicated for a in harness.alerts()] == [False, True]

    # Restored, then tampered the first way again: alerted again.
    weights.write_bytes(b"reviewed weights")
    assert not await scheduler.run_poller("integrity")
    assert load_cursor(harness.store, "integrity") == {"alerted": {}}
    weights.write_bytes(b"backdoored weights")
    assert (await scheduler.run_poller("integrity")).accepted == 1


async def test_a_directory_artifact_is_hashed_over_its_files(harness: Harness) -> None:
    model_dir = harness.tmp_path / "model"
    (model_dir / "tokenizer").mkdir(parents=True)
    (model_dir / "config.json").write_text("{}")
    (model_dir / "tokenizer" / "vocab.txt").write_text("a b c")
    register(
        harness.store,
        f"dir-model-{harness.tag}",
        "1",
        model_dir.as_uri(),
        directory_digest(model_dir).removeprefix("sha256:").upper(),  # bare hex is accepted
    )
    scheduler = await harness.scheduler(INTEGRITY)
    assert not await scheduler.run_poller("integrity")

    (model_dir / "tokenizer" / "extra.bin").write_bytes(b"\x00")
    counts = await scheduler.run_poller("integrity")
    assert (counts.accepted, counts.dead_lettered) == (1, 0)
    assert [incident.kind for incident in harness.incidents()] == ["model_compromise"]


def test_directory_digest_is_deterministic_and_covers_names(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for root, order in ((one, ["b/y", "a", "b/x"]), (two, ["b/x", "a", "b/y"])):
        for name in order:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(name.encode())
    assert directory_digest(one) == directory_digest(two)

    # The same bytes split differently between files, or a renamed file, differ.
    (two / "a").write_bytes(b"ab/x")
    (two / "b" / "x").write_bytes(b"")
    assert directory_digest(one) != directory_digest(two)
    (two / "a").write_bytes(b"a")
    (two / "b" / "x").write_bytes(b"b/x")
    assert directory_digest(one) == directory_digest(two)
    (two / "b" / "x").rename(two / "b" / "z")
    assert directory_digest(one) != directory_digest(two)


async def test_missing_and_unsupported_artifacts_are_logged_not_alerted(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    digest = "sha256:" + "0" * 64
    register(harness.store, f"gone-{harness.tag}", "1", str(harness.tmp_path / "nope"), digest)
    register(harness.store, f"hub-{harness.tag}", "1", "hf://org/model", digest)
    register(harness.store, f"md5-{harness.tag}", "1", str(harness.tmp_path), "md5:abc")
    register(harness.store, f"undigested-{harness.tag}", "1", str(harness.tmp_path), None)
    scheduler = await harness.scheduler(INTEGRITY)

    assert not await scheduler.run_poller("integrity")

    assert harness.incidents() == []
    errors = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and r.name == "integrations.pollers.model_integrity"
    ]
    assert errors == [
        f"model-integrity: gone-{harness.tag} version 1: artifact "
        f"{harness.tmp_path / 'nope'} is missing (no file or directory at the path)"
    ]
    assert "unsupported URI scheme 'hf'" in caplog.text
    assert "registered digest is not SHA-256" in caplog.text
    assert "undigested" not in caplog.text


def test_artifact_uris(tmp_path: Path) -> None:
    artifact = tmp_path / "with space.bin"
    artifact.write_bytes(b"w")
    expected = "sha256:" + hashlib.sha256(b"w").hexdigest()
    assert artifact_digest(str(artifact)).digest == expected
    assert artifact_digest(artifact.as_uri()).digest == expected
    assert artifact_digest("file://elsewhere/x").status == "unchecked"
