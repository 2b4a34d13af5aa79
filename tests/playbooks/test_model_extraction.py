"""`model-extraction` end to end: a principal that carries on while throttled is blocked
until a responder lifts it, and its key is revoked; it asks nobody, and Slack is told."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.keys.local import LocalKeys
from tests.playbooks.conftest import Responder, check

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def extraction(**changes: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "source": "gateway",
        "kind": "model_extraction",
        "severity": "medium",
        "title": "Systematic querying of support-llm by key-partner-acme",
        "principal": {"api_key_id": "key-partner-acme", "tenant": "acme"},
        "target": {"endpoint": "support-bot-prod", "model": "support-llm"},
        "evidence": {"details": {"requests_per_minute": 1800, "tokens": 2400000}},
        "dedup_key": "extraction:key-partner-acme",
        "owasp": ["LLM10"],
        "atlas": ["AML.T0024.002"],
    }
    alert.update(changes)
    return alert


async def test_carrying_on_while_throttled_blocks_and_revokes(slack_responder: Responder) -> None:
    responder = slack_responder
    ref = await responder.send(extraction())
    await responder.wait_for(ref, "step.completed", step="throttle principal")
    http = responder.engine.http
    throttled = await check(http, key_id="key-partner-acme")
    assert throttled["allowed"] is False
    assert " until " in throttled["reasons"][0]["message"]

    again = await responder.send(extraction(title="Still querying"))
    assert again == ref
    await responder.wait_for(ref, "playbook.finished")

    blocked = await check(http, key_id="key-partner-acme")
    assert blocked["allowed"] is False
    assert any(" until " not in r["message"] for r in blocked["reasons"])
    keys = LocalKeys(responder.settings.local_keys_file)
    assert keys.state("key-partner-acme").status == "inactive"
    assert [a.target for a in responder.actions("block_principal")] == [
        "api_key:key-partner-acme",
        "api_key:key-partner-acme",
    ]
    detail = await responder.detail(ref)
    assert (detail["severity"], detail["status"]) == ("high", "contained")
    note = next(e for e in detail["timeline"] if e["kind"] == "notification")
    assert "partner-acme" in note["data"]["to"]  # the key's owner, from the inventory
    markdown = await responder.report(ref)
    assert "LLM10:2025 Unbounded Consumption" in markdown
    assert "AML.T0024.002 Exfiltration via AI Inference API: Extract AI Model" in markdown
    # Slack follows the incident: the card, each step in its thread, nobody asked.
    slack = [m["text"] for m in await responder.slack_messages(ref, "Playbook finished")]
    assert slack[0].startswith(f"HIGH {ref}: ")
    assert "Step revoke key key-partner-acme completed" in slack
    assert not [text for text in slack if "Approval needed" in text]
    assert responder.slack_leaks() == []
