"""NVIDIA NeMo Guardrails generation logs with activated rails.

NeMo returns a generation log when asked with `options={"log": {"activated_rails": true}}`
(over HTTP: `"guardrails": {"options": {"log": {"activated_rails": true}}}` in the request).
Three shapes carry it, each accepted exactly as NeMo emits it:

- the server's `/v1/chat/completions` answer: an OpenAI chat completion with NeMo's
  `guardrails` object, `{"id", "object": "chat.completion", "model", "created",
  "choices": [{"message": {"role": "assistant", "content"}}], "guardrails": {"config_id",
  "llm_output", "output_data", "log"}}`;
- the older server's answer, `{"messages": [bot message], "llm_output", "output_data",
  "log", "state"}`;
- the Python `GenerationResponse` serialised with `model_dump()` / `model_dump_json()`,
  `{"response": [messages] | "...", "llm_output", "output_data", "log", "state"}`.

The log (`GenerationLog`) is::

    {"activated_rails": [
        {"type": "input" | "output" | "dialog" | "generation" | "tool_call" | "tool_result",
         "name": "self check input" | "jailbreak detection heuristics" | ...,
         "decisions": ["execute self_check_input", "refuse to respond", "stop"],
         "executed_actions": [{"action_name", "action_params", "return_value", "llm_calls",
                               "started_at", "finished_at", "duration"}],
         "stop": bool, "additional_info": {...} | null,
         "started_at": epoch-seconds, "finished_at", "duration"}],
     "stats": {...}, "llm_calls": [...] | null, "internal_events": ..., "colang_history": ...}

Rail types are the ones NeMo's `compute_generation_log` writes; `tool_call` and
`tool_result` rails appeared with tool rails. NeMo sets `stop` on an input, output or tool
rail that ended the processing (a rail flow that ran `stop`, or raised).

A wrapper is also accepted, for integrations that add the request and who sent it::

    {"request": {"messages": [{"role": "user", "content": "..."}, ...]},   # optional
     "response": <any of the shapes above>,
     "context": {"application", "endpoint", "model", "model_version", "user", "api_key_id",
                 "tenant", "session_id", "ip", "occurred_at"}}               # all optional

The alert is about the first rail that stopped the generation (`stop: true`), else the first
whose decisions include a refusal. A run in which no rail did is no finding (422, as for every
guard that did not flag).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integrations.sources import common as c
from smokejumper.domain.alerts import Alert, AlertKind, Evidence, Severity

_MAX_ACTIONS = 20
# ActivatedRail.type values NeMo's compute_generation_log writes.
RAIL_TYPES = ("input", "output", "dialog", "generation", "tool_call", "tool_result")


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
        severity = {"output": Severity.HIGH, "tool_result": Severity.MEDIUM}.get(
            rail_type, Severity.LOW
        )
        return _Mapping(AlertKind.DATA_LEAKAGE, severity, ("LLM02",), ("AML.T0057",))
    if rail_type == "tool_result":
        # Tool results come from systems the caller does not control.
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
    if rail_type == "tool_call":
        # The model asked for a tool call its policy forbids.
        return _Mapping(AlertKind.OTHER, Severity.MEDIUM, ("LLM06",), ())
    return _Mapping(AlertKind.OTHER, Severity.LOW, (), ())


def _content(message: Mapping[str, Any], path: str) -> str | None:
    """A message's text: a string, or the text parts of an OpenAI content list."""
    value = message.get("content")
    if value is None or isinstance(value, str):
        return value
    parts_path = c.join(path, "content")
    if not isinstance(value, list):
        c.fail(parts_path, "must be a string or a list of content parts")
    texts = []
    for i, part in enumerate(value):
        text = c.opt_str(c.as_object(part, c.join(parts_path, i)), "text", c.join(parts_path, i))
        if text is not None:
            texts.append(text)
    return "\n".join(texts)


def _last_content(messages: list[Any], path: str, role: str) -> str | None:
    for i in reversed(range(len(messages))):
        item_path = c.join(path, i)
        message = c.as_object(messages[i], item_path)
        if c.opt_str(message, "role", item_path) == role:
            return _content(message, item_path)
    return None


@dataclass(frozen=True)
class _Generation:
    """What one NeMo answer says, whichever of its shapes it came in."""

    log: Mapping[str, Any]
    log_path: str
    bot_text: str | None
    model: str | None = None
    config_id: str | None = None
    created: datetime | None = None


def _chat_completion(response: Mapping[str, Any], path: str) -> _Generation:
    guardrails_path = c.join(path, "guardrails")
    guardrails = c.obj(response, "guardrails", path)
    choices = c.opt_list(response, "choices", path)
    bot_text = None
    if choices:
        choice_path = c.join(c.join(path, "choices"), 0)
        message = c.opt_obj(c.as_object(choices[0], choice_path), "message", choice_path)
        if message is not None:
            bot_text = _content(message, c.join(choice_path, "message"))
    created = response.get("created")
    return _Generation(
        log=c.obj(guardrails, "log", guardrails_path),
        log_path=c.join(guardrails_path, "log"),
        bot_text=bot_text,
        model=c.name(c.opt_str(response, "model", path)),
        config_id=c.opt_str(guardrails, "config_id", guardrails_path),
        created=None if created is None else c.parse_time(created, c.join(path, "created")),
    )


def _generation(response: Mapping[str, Any], path: str) -> _Generation:
    if "guardrails" in response or "choices" in response:
        return _chat_completion(response, path)
    bot_text = None
    for key in ("response", "messages"):
        value = response.get(key)
        if isinstance(value, str):
            bot_text = value
            break
        if value is not None:
            bot_text = _last_content(
                c.opt_list(response, key, path), c.join(path, key), "assistant"
            )
            break
    return _Generation(
        log=c.obj(response, "log", path), log_path=c.join(path, "log"), bot_text=bot_text
    )


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
        wrapped = isinstance(body.get("response"), dict)
        request = (c.opt_obj(body, "request", "") if wrapped else None) or {}
        generation = (
            _generation(c.obj(body, "response", ""), "response")
            if wrapped
            else _generation(body, "")
        )
        rails_path = c.join(generation.log_path, "activated_rails")
        index, rail = _pick_rail(
            c.opt_list(generation.log, "activated_rails", generation.log_path), rails_path
        )
        path = c.join(rails_path, index)
        rail_type = c.req_str(rail, "type", path)
        if rail_type not in RAIL_TYPES:
            c.fail(c.join(path, "type"), f"must be one of {', '.join(RAIL_TYPES)}")
        rail_name = c.req_str(rail, "name", path)
        decisions = c.opt_list(rail, "decisions", path)
        for i, decision in enumerate(decisions):
            if not isinstance(decision, str):
                c.fail(c.join(c.join(path, "decisions"), i), "must be a string")
        context = c.read_context(c.opt_obj(body, "context", "") if wrapped else None, "context")
        started = rail.get("started_at")
        occurred_at = (
            context.occurred_at
            or (None if started is None else c.parse_time(started, c.join(path, "started_at")))
            or generation.created
        )
        target = context.target
        if target.model is None and generation.model is not None:
            target = target.model_copy(update={"model": generation.model})
        mapping = _classify(rail_type, rail_name)

        details: dict[str, c.Scalar] = {
            "rail_type": c.detail(rail_type),
            "rail_name": c.detail(rail_name),
            "stop": c.opt_bool(rail, "stop", path) or False,
            "decisions": c.detail(" | ".join(decisions)),
        }
        if generation.config_id:
            details["config_id"] = c.detail(generation.config_id)
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
                f"{c.on_target(target)}"
            ),
            description=c.description(
                f"The {rail_type} rail '{rail_name}' stopped or refused the generation."
            ),
            principal=context.principal,
            target=target,
            evidence=Evidence(
                prompt=c.evidence_text(_last_content(messages, "request.messages", "user")),
                response=c.evidence_text(generation.bot_text),
                details=details,
            ),
            labels=labels,
            owasp=list(mapping.owasp),
            atlas=list(mapping.atlas),
            **c.occurred(occurred_at),
        )
