"""Lakera Guard v2 (`POST /v2/guard`) screening results.

Reads the v2 response requested with `"breakdown": true` and `"payload": true`::

    {"flagged": true, "metadata": {"request_uuid": "..."},
     "breakdown": [{"project_id", "policy_id", "detector_id", "detector_type": "prompt_attack" |
                    "moderated_content/<category>" | "pii/<entity>" | "unknown_links" | ...,
                    "detected": bool, "message_id": int?}],
     "payload": [{"start", "end", "text", "detector_type", "labels": [], "message_id"}],
     "dev_info": {...}}

Envelope the integration posts: the request it screened (Lakera's own request body; its
`metadata` tags carry our context) and Lakera's answer::

    {"request": {"messages": [{"role": "user", "content": "..."}, ...],
                 "metadata": {"application", "endpoint", "model", "model_version",
                              "user" | "user_id", "api_key_id", "tenant", "session_id",
                              "ip" | "ip_address", "occurred_at"}},   # all optional
     "response": <the /v2/guard response>}

`message_id` indexes `request.messages`; a detection without one is taken to be about the last
message, which is what Guard screens. The last user and assistant messages become the evidence
prompt and response; other flagged messages (a tool result carrying an injection) are kept in
`evidence.details["message[<i>].<role>"]`, and spans into a tool message use field `tool`.
`flagged: false` is not an alert. `payload[].text` is the matched value itself and is dropped:
spans keep only its offsets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.sources import common as c
from smokejumper.domain.alerts import Alert, AlertKind, Evidence, MatchedSpan, Severity

_KIND_PRIORITY = [
    AlertKind.PROMPT_INJECTION,
    AlertKind.DATA_LEAKAGE,
    AlertKind.JAILBREAK,
    AlertKind.OTHER,
]


@dataclass(frozen=True)
class _Finding:
    kind: AlertKind
    severity: Severity
    owasp: tuple[str, ...]
    atlas: tuple[str, ...]
    vector: str | None = None


def _classify(detector_type: str, role: str | None) -> _Finding:
    family = detector_type.split("/", 1)[0]
    from_model = role == "assistant"
    if family == "prompt_attack":
        # An attack inside a tool result or retrieved content arrived indirectly.
        if role == "tool":
            return _Finding(
                AlertKind.PROMPT_INJECTION,
                Severity.HIGH,
                ("LLM01",),
                ("AML.T0051.001",),
                "indirect",
            )
        return _Finding(
            AlertKind.PROMPT_INJECTION, Severity.HIGH, ("LLM01",), ("AML.T0051.000",), "direct"
        )
    if family == "pii":
        severity = Severity.HIGH if from_model else Severity.MEDIUM
        return _Finding(AlertKind.DATA_LEAKAGE, severity, ("LLM02",), ("AML.T0057",))
    if family == "moderated_content" and from_model:
        # Policy-violating content in the model's own answer: its guardrails were bypassed.
        return _Finding(AlertKind.JAILBREAK, Severity.MEDIUM, ("LLM01",), ("AML.T0054",))
    if family == "unknown_links" and from_model:
        return _Finding(AlertKind.OTHER, Severity.LOW, ("LLM05",), ())
    return _Finding(AlertKind.OTHER, Severity.LOW, (), ())


def _messages(request: Mapping[str, Any] | None) -> list[tuple[str | None, str | None]]:
    if request is None:
        return []
    result: list[tuple[str | None, str | None]] = []
    for i, raw in enumerate(c.opt_list(request, "messages", "request")):
        path = c.join("request.messages", i)
        message = c.as_object(raw, path)
        result.append((c.opt_str(message, "role", path), c.opt_str(message, "content", path)))
    return result


def _message_index(item: Mapping[str, Any], path: str, count: int) -> int | None:
    """The screened message an item refers to: its `message_id`, else the last message."""
    index = c.opt_int(item, "message_id", path)
    if index is None:
        return count - 1 if count else None
    if count == 0:
        # Without the request's messages the index cannot be resolved; keep it unattributed.
        return None
    if not 0 <= index < count:
        c.fail(c.join(path, "message_id"), "is out of range of request.messages")
    return index


def _last_index(messages: list[tuple[str | None, str | None]], role: str) -> int | None:
    return next((i for i in reversed(range(len(messages))) if messages[i][0] == role), None)


class LakeraNormalizer:
    name = "lakera"

    def normalize(self, payload: Any) -> Alert:
        request, response = _request_and_response(payload)
        messages = _messages(request)
        context = c.read_context(
            None if request is None else c.opt_obj(request, "metadata", "request"),
            "request.metadata",
        )
        detections, project_id, policy_id = _breakdown(response, len(messages))
        prompt_index = _last_index(messages, "user")
        response_index = _last_index(messages, "assistant")
        spans, spans_elsewhere = _spans(
            response, messages, detections, prompt_index, response_index
        )
        findings = [_classify(d, None if i is None else messages[i][0]) for d, i in detections] or [
            _classify("unknown", None)
        ]
        kind = next(k for k in _KIND_PRIORITY if any(f.kind is k for f in findings))
        vectors = c.unique(f.vector for f in findings if f.kind is kind and f.vector)
        metadata = c.opt_obj(response, "metadata", "response") or {}
        request_uuid = c.opt_str(metadata, "request_uuid", "response.metadata")
        details: dict[str, c.Scalar] = {
            "request_uuid": request_uuid,
            "detectors": c.detail(",".join(c.unique(d for d, _ in detections))),
            "project_id": project_id,
            "policy_id": policy_id,
            "spans_outside_evidence": spans_elsewhere,
        }
        details |= _flagged_elsewhere(messages, detections, {prompt_index, response_index})
        details |= _dev_info(response)
        names = ", ".join(c.unique(d for d, _ in detections)) or "unattributed detector"
        return Alert(
            source=self.name,
            kind=kind,
            severity=c.max_severity(*(f.severity for f in findings)),
            title=c.title(f"Lakera Guard flagged {names}{c.on_target(context.target)}"),
            description=c.description(
                f"Lakera Guard flagged the screened conversation ({len(detections)} detector(s))."
            ),
            principal=context.principal,
            target=context.target,
            evidence=Evidence(
                prompt=c.evidence_text(None if prompt_index is None else messages[prompt_index][1]),
                response=c.evidence_text(
                    None if response_index is None else messages[response_index][1]
                ),
                matched_spans=spans[: c.MAX_SPANS],
                details={k: c.detail(v) for k, v in details.items() if v is not None},
            ),
            labels={"vector": "+".join(vectors)} if vectors else {},
            owasp=c.unique(o for f in findings for o in f.owasp),
            atlas=c.unique(a for f in findings for a in f.atlas),
            # One screening request, one id: a shipper's retry of it is stored once.
            event_id=c.name(request_uuid),
            **c.occurred(context.occurred_at),
        )


def _request_and_response(payload: Any) -> tuple[Mapping[str, Any] | None, Mapping[str, Any]]:
    body = c.as_object(payload, "")
    if "response" not in body and "flagged" in body:
        # The /v2/guard answer alone; a `messages` list next to it is the request echoed.
        body = {"response": body, "request": body if "messages" in body else None}
    request = c.opt_obj(body, "request", "")
    response = c.obj(body, "response", "")
    if not c.req_bool(response, "flagged", "response"):
        c.fail("response.flagged", "flagged is false: nothing to report")
    return request, response


def _breakdown(
    response: Mapping[str, Any], count: int
) -> tuple[list[tuple[str, int | None]], str | None, str | None]:
    """The detectors that fired (with the message each flagged), and the project and
    policy they ran under."""
    detections: list[tuple[str, int | None]] = []
    project_id = policy_id = None
    for i, raw in enumerate(c.opt_list(response, "breakdown", "response")):
        path = c.join("response.breakdown", i)
        item = c.as_object(raw, path)
        detector_type = c.req_str(item, "detector_type", path)
        if c.req_bool(item, "detected", path):
            detections.append((detector_type, _message_index(item, path, count)))
            project_id = project_id or c.opt_str(item, "project_id", path)
            policy_id = policy_id or c.opt_str(item, "policy_id", path)
    return detections, project_id, policy_id


def _spans(
    response: Mapping[str, Any],
    messages: list[tuple[str | None, str | None]],
    detections: list[tuple[str, int | None]],
    prompt_index: int | None,
    response_index: int | None,
) -> tuple[list[MatchedSpan], int]:
    """The payload's matched spans in the evidence fields, and how many fell elsewhere;
    a detector only the payload shows joins `detections`."""
    spans: list[MatchedSpan] = []
    spans_elsewhere = 0
    for i, raw in enumerate(c.opt_list(response, "payload", "response")):
        path = c.join("response.payload", i)
        item = c.as_object(raw, path)
        detector_type = c.req_str(item, "detector_type", path)
        start, end = c.req_int(item, "start", path), c.req_int(item, "end", path)
        if start < 0 or end < start:
            c.fail(path, "start and end must satisfy 0 <= start <= end")
        index = _message_index(item, path, len(messages))
        if not any(d == detector_type for d, _ in detections):
            # Breakdown was not requested (or omitted this detector): payload still shows it.
            detections.append((detector_type, index))
        if index is not None and index == prompt_index:
            field = "prompt"
        elif index is not None and index == response_index:
            field = "response"
        elif index is not None and messages[index][0] == "tool":
            # Offsets into the tool message, which is kept in details (see below).
            field = "tool"
        else:
            spans_elsewhere += 1
            continue
        label = c.req_name(detector_type, c.join(path, "detector_type"))
        spans.append(MatchedSpan(start=start, end=end, label=label, field=field))
    return spans, spans_elsewhere


def _flagged_elsewhere(
    messages: list[tuple[str | None, str | None]],
    detections: list[tuple[str, int | None]],
    evidence: set[int | None],
) -> dict[str, c.Scalar]:
    # A flagged tool result or older turn is evidence too, and has no field of its own.
    details: dict[str, c.Scalar] = {}
    for _, index in detections:
        if index is not None and index not in evidence:
            role, content = messages[index]
            if content is not None:
                details[f"message[{index}].{role or 'unknown'}"[: c.NAME_MAX]] = content
    return details


def _dev_info(response: Mapping[str, Any]) -> dict[str, c.Scalar]:
    dev_info = c.opt_obj(response, "dev_info", "response") or {}
    return {
        f"dev_info.{key}": c.detail(value)
        for key in ("version", "model_version", "git_revision")
        if isinstance(value := dev_info.get(key), str)
    }
