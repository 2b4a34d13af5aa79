"""`model-compromise` end to end, from the model-integrity check's own alert format."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from tests.playbooks.conftest import Responder

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
    detail = await responder.detail(ref)
    # support-bot is a high-risk system: the EU AI Act clock runs from awareness.
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
