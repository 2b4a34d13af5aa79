"""NeMo Guardrails generation logs: the rail that stopped the generation is the finding.

Fixtures follow NVIDIA/NeMo-Guardrails:
- `nemoguardrails/rails/llm/options.py`: GenerationResponse, GenerationLog, ActivatedRail and
  ExecutedAction fields;
- `nemoguardrails/logging/processing_log.py`, `compute_generation_log`: the rail types
  (input, output, dialog, generation, tool_call, tool_result), `stop` and the "stop" decision
  on a rail that ended processing;
- `nemoguardrails/server/schemas/openai.py`: GuardrailsChatCompletion, an OpenAI chat
  completion plus `guardrails.{config_id, log}`; the older `nemoguardrails/server/api.py`
  answered `{messages, llm_output, output_data, log, state}`;
- `docs/user_guides/detailed_logging/README.md`: a blocked input rail's decisions as NeMo
  writes them ("refuse to respond", the bot message actions, then "stop" twice).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from integrations.sources.base import NormalizationError
from integrations.sources.nemo_guardrails import NemoGuardrailsNormalizer
from smokejumper.domain.alerts import AlertKind, Severity

FIXTURES = Path(__file__).parent / "fixtures" / "nemo_guardrails"
normalizer = NemoGuardrailsNormalizer()


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return payload


def field_of(caught: pytest.ExceptionInfo[NormalizationError]) -> str:
    return caught.value.errors[0]["field"]


def test_self_check_input_stop_is_a_jailbreak_attempt() -> None:
    payload = load("self_check_input.json")
    alert = normalizer.normalize(payload)
    assert alert.source == "nemo-guardrails"
    assert alert.kind is AlertKind.JAILBREAK
    assert alert.severity is Severity.MEDIUM
    assert alert.owasp == ["LLM01"]
    assert alert.atlas == ["AML.T0054"]
    assert alert.labels == {"rail_type": "input", "vector": "direct"}
    assert alert.principal.user == "emp-4410"
    assert alert.principal.session_id == "th_8812"
    assert alert.target.application == "hr-assistant"
    assert alert.target.model == "gpt-4o-mini"
    # No context timestamp: the rail's own start time is when it happened.
    assert alert.occurred_at == datetime.fromtimestamp(1718031200.5, UTC)
    assert alert.evidence.prompt == payload["request"]["messages"][0]["content"]
    assert alert.evidence.response == "I'm sorry, I can't respond to that."
    details = alert.evidence.details
    assert details["rail_name"] == "self check input"
    assert details["rail_type"] == "input"
    assert details["stop"] is True
    assert details["action.self_check_input"] is False
    assert str(details["decisions"]).startswith("execute self_check_input | refuse to respond")
    assert alert.title == (
        "NeMo Guardrails input rail 'self check input' stopped the conversation on hr-assistant"
    )


def test_jailbreak_heuristics() -> None:
    alert = normalizer.normalize(load("jailbreak_heuristics.json"))
    assert alert.kind is AlertKind.JAILBREAK
    assert alert.atlas == ["AML.T0054"]
    assert alert.evidence.details["action.jailbreak_detection_heuristics"] is True
    assert "steal" not in alert.title


def test_sensitive_data_on_output_is_a_high_leak_and_earlier_rails_are_skipped() -> None:
    payload = load("sensitive_output.json")
    alert = normalizer.normalize(payload)
    assert alert.kind is AlertKind.DATA_LEAKAGE
    assert alert.severity is Severity.HIGH
    assert alert.owasp == ["LLM02"]
    assert alert.atlas == ["AML.T0057"]
    assert alert.labels == {"rail_type": "output"}
    assert alert.evidence.details["rail_name"] == "detect sensitive data on output"
    # The server's `messages` shape carries the bot reply.
    assert alert.evidence.response == "I'm sorry, I can't respond to that."


def test_a_tool_result_rail_is_an_indirect_injection() -> None:
    payload = load("tool_result_injection.json")
    alert = normalizer.normalize(payload)
    assert alert.kind is AlertKind.PROMPT_INJECTION
    assert alert.severity is Severity.HIGH
    assert alert.owasp == ["LLM01"]
    assert alert.atlas == ["AML.T0051.001"]
    assert alert.labels == {"rail_type": "tool_result", "vector": "indirect"}
    # Scalar parts of a structured verdict are kept.
    details = alert.evidence.details
    assert details["action.validate_tool_result.allowed"] is False
    assert details["action.validate_tool_result.flagged_spans"] == 1
    assert alert.evidence.prompt == payload["request"]["messages"][0]["content"]
    # The context timestamp wins over the rail's.
    assert alert.occurred_at.isoformat() == "2024-06-10T14:58:20+00:00"


def test_server_chat_completion_as_it_answers() -> None:
    alert = normalizer.normalize(load("chat_completion_self_check_output.json"))
    assert alert.kind is AlertKind.JAILBREAK
    assert alert.severity is Severity.MEDIUM
    assert alert.labels == {"rail_type": "output"}
    # The generation rail before it did not stop: the output rail is the finding.
    assert alert.evidence.details["rail_name"] == "self check output"
    assert alert.evidence.details["action.self_check_output"] is False
    assert alert.evidence.details["config_id"] == "support-bot"
    assert alert.evidence.response == "I'm sorry, I can't respond to that."
    assert alert.evidence.prompt is None
    assert alert.target.model == "meta/llama-3.1-8b-instruct"
    assert alert.occurred_at == datetime.fromtimestamp(1764927000.04, UTC)
    assert alert.title == (
        "NeMo Guardrails output rail 'self check output' stopped the conversation"
        " on meta/llama-3.1-8b-instruct"
    )


def test_generation_response_model_dump_as_it_comes() -> None:
    alert = normalizer.normalize(load("generation_response_model_dump.json"))
    assert alert.kind is AlertKind.JAILBREAK
    assert alert.labels == {"rail_type": "input", "vector": "direct"}
    assert alert.evidence.details["stop"] is True
    assert alert.evidence.details["decisions"] == (
        "execute self_check_input | refuse to respond | execute retrieve_relevant_chunks"
        " | execute generate_bot_message | stop | stop"
    )
    assert alert.evidence.response == "I'm sorry, I can't respond to that."
    assert alert.occurred_at == datetime.fromtimestamp(1764927300.11, UTC)


def test_older_server_answer_as_it_comes() -> None:
    answer = load("sensitive_output.json")["response"]
    alert = normalizer.normalize(answer)
    assert alert.kind is AlertKind.DATA_LEAKAGE
    assert alert.evidence.response == "I'm sorry, I can't respond to that."
    assert alert.principal.user is None


def test_chat_completion_content_parts_are_read() -> None:
    payload = load("chat_completion_self_check_output.json")
    payload["choices"][0]["message"]["content"] = [{"type": "text", "text": "No."}]
    assert normalizer.normalize(payload).evidence.response == "No."


def test_a_clean_chat_completion_is_not_an_alert() -> None:
    payload = load("chat_completion_self_check_output.json")
    rail = payload["guardrails"]["log"]["activated_rails"][1]
    rail.update(stop=False, decisions=["execute self_check_output"])
    with pytest.raises(NormalizationError, match="nothing to report") as caught:
        normalizer.normalize(payload)
    assert field_of(caught) == "guardrails.log.activated_rails"


@pytest.mark.parametrize(
    ("rail_type", "rail_name", "kind", "owasp"),
    [
        ("output", "self check output", AlertKind.JAILBREAK, ["LLM01"]),
        ("output", "self check facts", AlertKind.OTHER, ["LLM09"]),
        ("input", "injection detection", AlertKind.PROMPT_INJECTION, ["LLM01"]),
        ("input", "mask sensitive data on input", AlertKind.DATA_LEAKAGE, ["LLM02"]),
        ("input", "llama guard check input", AlertKind.OTHER, []),
        ("tool_call", "validate tool calls", AlertKind.OTHER, ["LLM06"]),
        ("tool_result", "mask sensitive data in tool results", AlertKind.DATA_LEAKAGE, ["LLM02"]),
        ("dialog", "off topic", AlertKind.OTHER, []),
    ],
)
def test_rail_mapping(rail_type: str, rail_name: str, kind: AlertKind, owasp: list[str]) -> None:
    payload = load("self_check_input.json")
    rail = payload["response"]["log"]["activated_rails"][0]
    rail.update(type=rail_type, name=rail_name)
    alert = normalizer.normalize(payload)
    assert alert.kind is kind
    assert alert.owasp == owasp


@pytest.mark.parametrize("rail_type", ["retrieval", "execution", "Input", "custom"])
def test_a_rail_type_nemo_does_not_emit_is_refused(rail_type: str) -> None:
    payload = load("self_check_input.json")
    payload["response"]["log"]["activated_rails"][0]["type"] = rail_type
    with pytest.raises(NormalizationError, match="must be one of input, output") as caught:
        normalizer.normalize(payload)
    assert field_of(caught) == "response.log.activated_rails[0].type"


def test_a_refusal_without_stop_still_counts() -> None:
    payload = load("self_check_input.json")
    payload["response"]["log"]["activated_rails"][0]["stop"] = False
    assert normalizer.normalize(payload).kind is AlertKind.JAILBREAK


def test_no_rail_stopped_is_not_an_alert() -> None:
    with pytest.raises(NormalizationError, match="nothing to report") as caught:
        normalizer.normalize(load("no_stop.json"))
    assert field_of(caught) == "response.log.activated_rails"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p["response"].pop("log"), "response.log"),
        (lambda p: p["response"]["log"].update(activated_rails={}), "response.log.activated_rails"),
        (
            lambda p: p["response"]["log"]["activated_rails"][0].pop("name"),
            "response.log.activated_rails[0].name",
        ),
        (
            lambda p: p["response"]["log"]["activated_rails"][0].update(stop="yes"),
            "response.log.activated_rails[0].stop",
        ),
        (
            lambda p: p["response"]["log"]["activated_rails"][0].update(decisions=[1]),
            "response.log.activated_rails[0].decisions[0]",
        ),
        (
            lambda p: p["response"]["log"]["activated_rails"][0]["executed_actions"][0].pop(
                "action_name"
            ),
            "response.log.activated_rails[0].executed_actions[0].action_name",
        ),
        (
            lambda p: p["response"]["log"]["activated_rails"][0].update(started_at="soon"),
            "response.log.activated_rails[0].started_at",
        ),
        (lambda p: p["request"].update(messages=[["user", "hi"]]), "request.messages[0]"),
        (
            lambda p: p["request"].update(messages=[{"role": "user", "content": 3}]),
            "request.messages[0].content",
        ),
        (
            lambda p: p["response"].update(response=[{"role": "assistant", "content": 1}]),
            "response.response[0].content",
        ),
    ],
)
def test_malformed_logs_name_the_field(mutate: Any, field: str) -> None:
    payload = load("self_check_input.json")
    mutate(payload)
    with pytest.raises(NormalizationError) as caught:
        normalizer.normalize(payload)
    assert field_of(caught) == field


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p["guardrails"].pop("log"), "guardrails.log"),
        (lambda p: p.update(guardrails=[]), "guardrails"),
        (lambda p: p.update(choices=[1]), "choices[0]"),
        (lambda p: p["choices"][0]["message"].update(content=5), "choices[0].message.content"),
        (lambda p: p.update(created="yesterday"), "created"),
    ],
)
def test_malformed_chat_completions_name_the_field(mutate: Any, field: str) -> None:
    payload = load("chat_completion_self_check_output.json")
    mutate(payload)
    with pytest.raises(NormalizationError) as caught:
        normalizer.normalize(payload)
    assert field_of(caught) == field
