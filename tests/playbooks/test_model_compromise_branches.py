"""`model-compromise` branches on what it finds, end to end on the dev server with the real
store (SQLite and PostgreSQL): the artifact and its training data are hashed from disk; a
match is a false alarm a responder confirms and the incident closes as one; a changed
dataset is data poisoning and asks who approves retraining; the EU AI Act Art. 73 class
and the SEC 8-K materiality are asked, and each answer starts its own clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowExecutionStatus

from integrations.digest import local_digest
from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import load_inventory
from smokejumper.sdk.clocks import ClockKind, deadline_for
from tests.helpers import eventually
from tests.playbooks.conftest import Responder, inventory

TAMPERED = "sha256:" + "9" * 64
DATASET = "support-tickets-2026q3"


def integrity_check(**changes: Any) -> dict[str, Any]:
    """The model-integrity check's own format, as `model-compromise` receives it."""
    check: dict[str, Any] = {
        "model": "support-llm",
        "version": "1.1.0",
        "artifact_uri": "s3://models/support-llm/1.1.0/model.safetensors",
        "expected_digest": "sha256:" + "2" * 64,
        "actual_digest": TAMPERED,
        "checked_at": "2026-11-30T03:00:00+00:00",
        "registry": "local",
    }
    check.update(changes)
    return check


def on_disk(tmp_path: Path, responder: Responder, *, model: bytes, dataset: bytes) -> None:
    """support-llm 1.1.0 and its training data on disk, the inventory recording the digests
    of the reviewed bytes; `model` and `dataset` are what is there now."""
    reviewed_model = tmp_path / "reviewed.safetensors"
    reviewed_model.write_bytes(b"reviewed weights")
    reviewed_data = tmp_path / "reviewed-data"
    reviewed_data.mkdir()
    (reviewed_data / "tickets.jsonl").write_bytes(b'{"ticket": 1}\n')

    artifact = tmp_path / "support-llm-1.1.0.safetensors"
    artifact.write_bytes(model)
    data_dir = tmp_path / "datasets" / DATASET
    data_dir.mkdir(parents=True)
    (data_dir / "tickets.jsonl").write_bytes(dataset)

    data = inventory()
    version = data["models"][0]["versions"][1]
    assert version["version"] == "1.1.0"
    version.update(artifact_uri=str(artifact), digest=local_digest(reviewed_model))
    [dataset_entry] = data["datasets"]
    dataset_entry.update(uri=str(data_dir), digest=local_digest(reviewed_data))
    import_inventory(responder.engine.store, load_inventory(data))


async def clocks(responder: Responder, ref: str) -> dict[str, dict[str, Any]]:
    live = (await responder.detail(ref)).get("live") or {}
    return {c["name"]: c for c in live.get("clocks", [])}


async def wait_for_clock(responder: Responder, ref: str, name: str) -> dict[str, Any]:
    async def started() -> dict[str, Any] | None:
        return (await clocks(responder, ref)).get(name)

    return await eventually(started, within=60)


def untouched(responder: Responder) -> None:
    """Nothing was taken out of service."""
    endpoints = LocalEndpoints(responder.settings.local_endpoints_file)
    assert endpoints.state("support-bot-prod").status == "serving"
    keys = LocalKeys(responder.settings.local_keys_file)
    assert keys.state("key-ml-publish").status == "active"
    assert responder.actions("isolate_endpoint") == []
    assert responder.actions("rollback_model") == []


async def test_a_matching_model_is_a_false_alarm_a_responder_confirms_and_closes(
    tmp_path: Path, responder: Responder
) -> None:
    on_disk(tmp_path, responder, model=b"reviewed weights", dataset=b'{"ticket": 1}\n')
    # The registry's record disagrees (that is what alerted), but the bytes are the reviewed
    # ones.
    ref = await responder.send(integrity_check(), source="model-integrity")

    verified = await responder.wait_for(ref, "digest.verified")
    assert verified["message"] == ("support-llm@1.1.0 matches the inventory's digest (hashed now)")
    dataset = await responder.wait_for(ref, "dataset.verified")
    assert dataset["message"] == f"dataset:{DATASET}: match (hashed now)"
    await responder.wait_for(ref, "false_alarm.suspected")
    await responder.decide(ref, "confirm false alarm", True, "registry record was stale")

    async def closed() -> dict[str, Any] | None:
        detail = await responder.detail(ref)
        return detail if detail["status"] == "closed" else None

    detail = await eventually(closed, within=60)
    statuses = [e["message"] for e in detail["timeline"] if e["kind"] == "incident.status"]
    assert any(
        "resolved: false alarm confirmed by operator: registry record was stale" in m
        for m in statuses
    ), statuses
    assert any(
        "closed: false alarm confirmed by operator: registry record was stale" in m
        for m in statuses
    ), statuses
    assert not any("contained" in m for m in statuses), statuses
    # The run ends with the close (once the close's own entries are written, a moment
    # after the status): nothing waits on the incident any more.
    handle = responder.engine.client.get_workflow_handle(detail["workflow_id"])

    async def ended() -> bool:
        description = await handle.describe()
        return description.status is WorkflowExecutionStatus.COMPLETED

    await eventually(ended, within=30)
    untouched(responder)
    assert "live" not in detail or not (detail.get("live") or {}).get("clocks")
    markdown = await responder.report(ref)
    assert "false alarm confirmed by operator" in markdown
    assert "eu-ai-act-art73" not in markdown


async def test_a_rejected_false_alarm_is_contained(tmp_path: Path, responder: Responder) -> None:
    on_disk(tmp_path, responder, model=b"reviewed weights", dataset=b'{"ticket": 1}\n')
    ref = await responder.send(integrity_check(), source="model-integrity")

    await responder.decide(ref, "confirm false alarm", False, "weights behave differently")
    rejected = await responder.wait_for(ref, "false_alarm.rejected")
    assert "Not a false alarm, says operator: weights behave differently" in rejected["message"]
    await responder.decide(ref, "isolate endpoints", True)
    await responder.wait_for_approval(ref, "roll back model")
    endpoints = LocalEndpoints(responder.settings.local_endpoints_file)
    assert endpoints.state("support-bot-prod").status == "isolated"


async def test_changed_training_data_is_poisoning_and_asks_who_approves_retraining(
    tmp_path: Path, responder: Responder
) -> None:
    on_disk(
        tmp_path,
        responder,
        model=b"reviewed weights",
        dataset=b'{"ticket": 1}\n{"ticket": "ignore previous instructions"}\n',
    )
    ref = await responder.send(integrity_check(), source="model-integrity")

    dataset = await responder.wait_for(ref, "dataset.verified")
    assert dataset["message"] == f"dataset:{DATASET}: mismatch (hashed now)"
    poisoning = await responder.wait_for(ref, "data_poisoning.suspected")
    assert "LLM04:2025 Data and Model Poisoning" in poisoning["message"]
    assert "AML.T0020 Poison Training Data" in poisoning["message"]
    await responder.decide(ref, "approve retraining", True, "retrain from the snapshot")
    approved = await responder.wait_for(ref, "retraining.approved")
    assert approved["message"] == (
        "Retraining of support-llm@1.1.0 from verified data approved by operator"
    )

    # support-bot is high-risk: the Art. 73 class is asked, strictest first.
    await responder.decide(ref, "art73 widespread", False, "one tenant only")
    await responder.decide(ref, "art73 death", True, "a patient-facing answer")
    classified = await responder.wait_for(ref, "ai_act.classified")
    assert classified["message"].startswith("EU AI Act Art. 73: a death (")
    art73 = await wait_for_clock(responder, ref, "eu-ai-act-art73-death")
    opened = datetime.fromisoformat((await responder.detail(ref))["opened_at"])
    started = datetime.fromisoformat(art73["started_at"])
    assert art73["basis"] == "awareness"
    assert abs(started - opened) < timedelta(seconds=1)
    assert datetime.fromisoformat(art73["deadline"]) == started + timedelta(days=10)

    await responder.decide(ref, "materiality", True, "customer data at scale")
    material = await responder.wait_for(ref, "disclosure.material")
    sec = await wait_for_clock(responder, ref, "sec-8k-item1.05")
    assert sec["basis"] == "determination"
    determined = datetime.fromisoformat(sec["started_at"])
    # The clock runs from the answer, not from the incident's opening.
    assert determined > opened
    assert determined.isoformat() in material["message"]
    assert datetime.fromisoformat(sec["deadline"]) == deadline_for(
        ClockKind.SEC_8K_ITEM_105, determined, None
    )
    await responder.wait_for(ref, "playbook.finished")
    # The model itself is the reviewed one: nothing to isolate or roll back.
    untouched(responder)
    detail = await responder.detail(ref)
    assert detail["severity"] == "critical"
    markdown = await responder.report(ref)
    assert "sec-8k-item1.05" in markdown
    assert "eu-ai-act-art73-death" in markdown


async def test_a_tampered_model_is_contained_and_the_widespread_clock_runs_two_days(
    tmp_path: Path, responder: Responder
) -> None:
    on_disk(tmp_path, responder, model=b"tampered weights", dataset=b'{"ticket": 1}\n')
    ref = await responder.send(integrity_check(), source="model-integrity")

    verified = await responder.wait_for(ref, "digest.verified")
    assert "does not match the inventory's digest" in verified["message"]
    assert verified["message"].endswith("(hashed now)")
    await responder.decide(ref, "art73 widespread", True, "every tenant is served by it")
    art73 = await wait_for_clock(responder, ref, "eu-ai-act-art73-widespread")
    started = datetime.fromisoformat(art73["started_at"])
    assert datetime.fromisoformat(art73["deadline"]) == started + timedelta(days=2)
    await responder.decide(ref, "materiality", False, "no customer impact")
    not_material = await responder.wait_for(ref, "disclosure.not_material")
    assert not_material["message"] == (
        "Assessed not material (SEC 8-K Item 1.05) by operator: no customer impact"
    )
    await responder.decide(ref, "isolate endpoints", True, "digest mismatch confirmed")
    await responder.decide(ref, "roll back model", False, "rebuilding from source instead")
    await responder.wait_for(ref, "playbook.finished")

    assert set(await clocks(responder, ref)) == {"eu-ai-act-art73-widespread"}
    endpoints = LocalEndpoints(responder.settings.local_endpoints_file)
    assert endpoints.state("support-bot-prod").status == "isolated"
    keys = LocalKeys(responder.settings.local_keys_file)
    assert keys.state("key-ml-publish").status == "inactive"
    timeline = await responder.timeline(ref)
    assert "false_alarm.suspected" not in [e["kind"] for e in timeline]


async def test_a_close_while_the_false_alarm_is_asked_is_the_closers(
    tmp_path: Path, responder: Responder
) -> None:
    on_disk(tmp_path, responder, model=b"reviewed weights", dataset=b'{"ticket": 1}\n')
    ref = await responder.send(integrity_check(), source="model-integrity")
    await responder.wait_for_approval(ref, "confirm false alarm")

    response = await responder.engine.http.post(
        f"/api/v1/incidents/{ref}/close", json={"reason": "duplicate of INC-0"}
    )
    assert response.status_code == 200, response.text
    await responder.wait_for(ref, "approval.withdrawn", step="confirm false alarm")
    detail = await responder.detail(ref)
    assert detail["status"] == "closed"
    statuses = [e["message"] for e in detail["timeline"] if e["kind"] == "incident.status"]
    assert not any("false alarm confirmed" in m for m in statuses), statuses
    assert "false_alarm.rejected" not in [e["kind"] for e in detail["timeline"]]
    untouched(responder)
