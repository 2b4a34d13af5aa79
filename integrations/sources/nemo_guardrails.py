"""NVIDIA NeMo Guardrails (>= 0.8) generation logs with activated rails.

Reads the `log` of a `GenerationResponse`, returned when generating with
`options={"log": {"activated_rails": True}}`::

    {"response": [{"role": "assistant", "content": "..."}] | "...",
     "log": {"activated_rails": [
        {"type": "input" | "output" | "dialog" | "generation" | "retrieval" | "execution",
         "name": "self check input" | "jailbreak detection heuristics" | ...,
         "decisions": ["execute self_check_input", "refuse to respond", "stop"],
         "executed_actions": [{"action_name", "action_params", "return_value",
                               "started_at", "finished_at", "duration"}],
         "stop": bool, "additional_info": {...} | null,
         "started_at": epoch-seconds, "finished_at", "duration"}]}}

The guardrails server answers with `messages` instead of `response`; both are accepted.

Envelope the integration posts::

    {"request": {"messages": [{"role": "user", "content": "..."}, ...]},   # optional
     "response": <GenerationResponse as a dict>,
     "context": {"application", "endpoint", "model", "model_version", "user", "api_key_id",
                 "tenant", "session_id", "ip", "occurred_at"}}               # all optional

The alert is about the first rail that stopped the generation (`stop: true`), else the first
whose decisions include a refusal. If none did, there is nothing to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.sources import common as c
from smokejumper.domain.alerts import Alert, AlertKind, Evidence, Severity

_MAX_ACTIONS = 20


@dataclass(frozen=True)
class _Mapping:
    kind: AlertKind
    severity: Severity
    owasp: tuple[str, ...]
    atlas: tuple[str, ...]
    vector: str | None = None


_INDIRECT = _Mapping(
    AlertKind.PROMPT_INJECTION, Severity.HIGH, ("LLM01",), ("AML.T0051.001",), "indirect"
)
_LEAK_WORDS = ("sensitive", "pii", "presidio", "private ai", "gliner")


def _classify(rail_type: str, rail_name: str) -> _Mapping:
    rail = rail_name.lower()
    if any(word in rail for word in _LEAK_WORDS):
        severity = {"output": Severity.HIGH, "retrieval": Severity.MEDIUM}.get(
            rail_type, Severity.LOW
        )
        return _Mapping(AlertKind.DATA_LEAKAGE, severity, ("LLM02",), ("AML.T0057",))
    if rail_type == "retrieval":
        # Retrieved chunks come from documents the caller does not control.
        return _INDIRECT
    if "injection" in rail:
        return _Mapping(
            AlertKind.PROMPT_INJECTION, Severity.MEDIUM, ("LLM01",), ("AML.T0051.000",), "direct"
        )
    # The default `self check input` policy asks whether the message tries to make the bot
    # forget or ignore its rules: a jailbreak check.
    if "jailbreak" in rail or rail.startswith("self check input"):
        return _Mapping(AlertKind.JAILBREAK, Severity.MEDIUM, ("LLM01",), ("AML.T0054",), "direct")
    if rail_type == "output":
        if "fact" in rail or "hallucination" in rail:
            return _Mapping(AlertKind.OTHER, Severity.LOW, ("LLM09",), ())
        # The model produced an answer its output policy rejects: its alignment was bypassed.
        return _Mapping(AlertKind.JAILBREAK, Severity.MEDIUM, ("LLM01",), ("AML.T0054",))
    if rail_type in {"execution", "tool_call", "tool_result"}:
        return _Mapping(AlertKind.OTHER, Severity.MEDIUM, ("LLM06",), ())
    return _Mapping(AlertKind.OTHER, Severity.LOW, (), ())


def _last_content(messages: list[Any], path: str, role: str) -> str | None:
    for i in reversed(range(len(messages))):
        item_path = c.join(path, i)
        message = c.as_object(messages[i], item_path)
        if c.opt_str(message, "role", item_path) == role:
            return c.opt_str(message, "content", item_path)
    return None


def _bot_text(response: Mapping[str, Any]) -> str | None:
    for key in ("response", "messages"):
        value = response.get(key)
        if isinstance(value, str):
            return value
        if value is not None:
            return _last_content(
                c.opt_list(response, key, "response"), f"response.{key}", "assistant"
            )
    return None


def _action_details(rail: Mapping[str, Any], path: str) -> dict[str, c.Scalar]:
    details: dict[str, c.Scalar] = {}
    for i, raw in enumerate(c.opt_list(rail, "executed_actions", path)[:_MAX_ACTIONS]):
        action_path = c.join(c.join(path, "executed_actions"), i)
        action = c.as_object(raw, action_path)
        action_name = c.req_str(action, "action_name", action_path)
        key = c.req_name(f"action.{action_name}", action_path)
        value = action.get("return_value")
        if c.is_scalar(value):
            details[key] = c.detail(value)
        elif isinstance(value, dict):
            # Structured verdicts such as {"allowed": false, "policy_violations": [...]}.
            for sub, sub_value in value.items():
                if sub_value is not None and c.is_scalar(sub_value):
                    details[c.req_name(f"{key}.{sub}", action_path)] = c.detail(sub_value)
    return details


def _pick_rail(rails: list[Any], path: str) -> tuple[int, Mapping[str, Any]]:
    parsed = [(i, c.as_object(raw, c.join(path, i))) for i, raw in enumerate(rails)]
    for i, rail in parsed:
        if c.opt_bool(rail, "stop", c.join(path, i)):
            return i, rail
    for i, rail in parsed:
        decisions = c.opt_list(rail, "decisions", c.join(path, i))
        if any(isinstance(d, str) and "refuse" in d.lower() for d in decisions):
            return i, rail
    c.fail(path, "no rail stopped or refused: nothing to report")


class NemoGuardrailsNormalizer:
    name = "nemo-guardrails"

    def normalize(self, payload: Any) -> Alert:
        body = c.as_object(payload, "")
        request = c.opt_obj(body, "request", "") or {}
        response = c.obj(body, "response", "")
        log = c.obj(response, "log", "response")
        rails_path = "response.log.activated_rails"
        index, rail = _pick_rail(c.opt_list(log, "activated_rails", "response.log"), rails_path)
        path = c.join(rails_path, index)
        rail_type = c.req_str(rail, "type", path)
        rail_name = c.req_str(rail, "name", path)
        decisions = c.opt_list(rail, "decisions", path)
        for i, decision in enumerate(decisions):
            if not isinstance(decision, str):
                c.fail(c.join(c.join(path, "decisions"), i), "must be a string")
        context = c.read_context(c.opt_obj(body, "context", ""), "context")
        started = rail.get("started_at")
        occurred_at = context.occurred_at or (
            None if started is None else c.parse_time(started, c.join(path, "started_at"))
        )
        mapping = _classify(rail_type, rail_name)

        details: dict[str, c.Scalar] = {
            "rail_type": c.detail(rail_type),
            "rail_name": c.detail(rail_name),
            "stop": c.opt_bool(rail, "stop", path) or False,
            "decisions": c.detail(" | ".join(decisions)),
        }
        details.update(_action_details(rail, path))
        labels = {"rail_type": c.label(rail_type)}
        if mapping.vector:
            labels["vector"] = mapping.vector

        messages = c.opt_list(request, "messages", "request")
        return Alert(
            source=self.name,
            kind=mapping.kind,
            severity=mapping.severity,
            title=c.title(
                f"NeMo Guardrails {rail_type} rail '{rail_name}' stopped the conversation"
                f"{c.on_target(context.target)}"
            ),
            description=c.description(
                f"The {rail_type} rail '{rail_name}' stopped or refused the generation."
            ),
            principal=context.principal,
            target=context.target,
            evidence=Evidence(
                prompt=c.evidence_text(_last_content(messages, "request.messages", "user")),
                response=c.evidence_text(_bot_text(response)),
                details=details,
            ),
            labels=labels,
            owasp=list(mapping.owasp),
            atlas=list(mapping.atlas),
            **c.occurred(occurred_at),
        )
