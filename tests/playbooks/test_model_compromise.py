"""`model-compromise` end to end, from the model-integrity check's own alert format; the
rollback answered in Slack by two people, each with their own click."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from integrations.digest import local_digest
from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from integrations.models.local import LocalModels
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import load_inventory
from tests.playbooks.conftest import CAROL, OPERATOR, Responder, inventory

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TAMPERED = "sha256:" + "9" * 64


def integrity_check(**changes: Any) -> dict[str, Any]:
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


async def test_a_tampered_version_is_isolated_and_its_publishers_revoked(
    responder: Responder,
) -> None:
    ref = await responder.send(integrity_check(), source="model-integrity")

    await responder.decide(ref, "isolate endpoints", True, "digest mismatch confirmed")
    await responder.wait_for_approval(ref, "roll back model")
    endpoints = LocalEndpoints(responder.settings.local_endpoints_file)
    # Only the endpoint serving 1.1.0: staging serves 1.2.0.
    assert endpoints.state("support-bot-prod").status == "isolated"
    assert endpoints.state("support-bot-staging").status == "serving"
    verified = await responder.wait_for(ref, "digest.verified")
    assert "does not match the inventory's digest sha256:2222" in verified["message"]
    # The artifact is not readable from here: the alert's digest is what was compared.
    assert "as the alert reports" in verified["message"]
    # support-bot is a high-risk system: the EU AI Act clock runs from awareness, for the
    # class of serious incident the responders name.
    await responder.decide(ref, "art73 widespread", False)
    await responder.decide(ref, "art73 death", False)
    await responder.decide(ref, "materiality", False, "internal model only")
    await responder.wait_for(ref, "clock.started")
    detail = await responder.detail(ref)
    assert [c["name"] for c in detail["live"]["clocks"]] == ["eu-ai-act-art73"]

    await responder.decide(ref, "roll back model", False, "rebuilding from source instead")
    await responder.wait_for(ref, "playbook.finished")
    keys = LocalKeys(responder.settings.local_keys_file)
    assert keys.state("key-ml-publish").status == "inactive"
    assert keys.state("key-support-web").status == "active"
    registry = next(e for e in responder.evidence() if e.name == "registry-state")
    assert TAMPERED.removeprefix("sha256:")[:20] in (registry.redacted_preview or "")
    markdown = await responder.report(ref)
    assert "AML.T0018 Manipulate AI Model" in markdown
    assert "LLM03:2025 Supply Chain" in markdown
    assert "eu-ai-act-art73" in markdown and "record the filing" in markdown
    assert "**roll back model** (denied" in markdown


async def test_two_people_roll_the_model_back_to_its_last_known_good_version(
    tmp_path: Path, slack_responder: Responder
) -> None:
    responder = slack_responder
    # Artifacts on disk, and an inventory that records the digest of the reviewed ones.
    artifacts: dict[str, Path] = {}
    for version, content in (("1.0.0", b"reviewed weights"), ("1.1.0", b"tampered weights")):
        path = tmp_path / f"support-llm-{version}.safetensors"
        path.write_bytes(content)
        artifacts[version] = path
    data = inventory()
    versions = data["models"][0]["versions"]
    versions[0].update(
        artifact_uri=str(artifacts["1.0.0"]), digest=local_digest(artifacts["1.0.0"])
    )
    versions[1].update(artifact_uri=str(artifacts["1.1.0"]))
    import_inventory(responder.engine.store, load_inventory(data))
    models = LocalModels(responder.settings.local_models_file)
    models.register("support-llm", "1.0.0", artifact_uri=str(artifacts["1.0.0"]))
    models.register(
        "support-llm", "1.1.0", artifact_uri=str(artifacts["1.1.0"]), aliases=("production",)
    )

    ref = await responder.send(integrity_check(), source="model-integrity")
    await responder.approve_in_slack(ref, "isolate endpoints", OPERATOR)
    isolated = await responder.decided_in_slack(ref, "isolate endpoints")
    assert f"Approved by <@{OPERATOR}> at " in isolated
    first = await responder.click_approve(ref, "roll back model", OPERATOR)
    assert await responder.told(OPERATOR, first) == (
        "Your approval of roll back model is recorded; 1 more approval(s) needed."
    )
    # The same person cannot be both: the second click is refused, in their words.
    again = await responder.click_approve(ref, "roll back model", OPERATOR)
    assert await responder.told(OPERATOR, again) == (
        "Your approve was not recorded: operator has already answered step 'roll back model'."
    )
    # One vote of two: nothing is rolled back yet, and the buttons stay for the second.
    assert models.state("support-llm", "production").version == "1.1.0"
    _, waiting = await responder.approval_message(ref, "roll back model")
    assert [b["type"] for b in waiting["blocks"]][-1] == "actions"
    await responder.approve_in_slack(ref, "roll back model", CAROL)
    rolled_back = await responder.decided_in_slack(ref, "roll back model")
    assert f"Approved by <@{OPERATOR}> <@{CAROL}> at " in rolled_back
    await responder.decide(ref, "art73 widespread", True)
    await responder.decide(ref, "materiality", False, "internal model only")
    await responder.wait_for(ref, "playbook.finished")

    assert models.state("support-llm", "production").version == "1.0.0"
    [rollback] = responder.actions("rollback_model")
    assert (rollback.target, rollback.status, rollback.verified) == (
        "support-llm@production",
        "completed",
        True,
    )
    assert rollback.attempts == 1
    [isolation] = responder.actions("isolate_endpoint")
    assert (isolation.target, isolation.attempts) == ("support-bot-prod", 1)
    markdown = await responder.report(ref)
    assert "| rollback_model | support-llm@production |" in markdown
    assert "**roll back model** (approved" in markdown
    assert "operator approved roll back model via slack" in markdown
    assert "carol approved roll back model via slack" in markdown
    assert responder.slack_leaks() == []
