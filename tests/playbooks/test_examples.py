"""The example alerts in examples/alerts/ are valid and reach the playbook they show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integrations.sources.registry import NORMALIZERS
from playbooks import playbook_routes
from smokejumper.domain.alerts import Alert
from smokejumper.domain.routing import Router

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "alerts"
ROUTER = Router(playbook_routes(), "triage")


@pytest.mark.parametrize(
    ("file", "playbook"),
    [
        ("generic.json", "prompt-injection"),
        ("data_leakage.json", "sensitive-data-leakage"),
        ("prompt_injection_indirect.json", "prompt-injection"),
        ("prompt_injection_agentic.json", "prompt-injection"),
        ("model_extraction.json", "model-extraction"),
        ("model_compromise.json", "model-compromise"),
    ],
)
def test_generic_examples(file: str, playbook: str) -> None:
    alert = Alert.model_validate(json.loads((EXAMPLES / file).read_text()))
    assert ROUTER.route(alert).playbook == playbook


@pytest.mark.parametrize(
    ("file", "source", "playbook"),
    [
        ("llm_guard_output_secret.json", "llm-guard", "sensitive-data-leakage"),
        (
            "azure_prompt_shields_document_attack.json",
            "azure-prompt-shields",
            "prompt-injection",
        ),
        ("model_integrity_mismatch.json", "model-integrity", "model-compromise"),
    ],
)
def test_native_examples(file: str, source: str, playbook: str) -> None:
    payload = json.loads((EXAMPLES / "native" / file).read_text())
    alert = NORMALIZERS[source].normalize(payload)
    assert ROUTER.route(alert).playbook == playbook
