"""PyRIT (Azure/PyRIT, >= 0.4) scores, as serialized by `Score.to_dict()`.

    {"id": "...", "score_value": "True" | "0.75", "score_value_description": "...",
     "score_type": "true_false" | "float_scale",
     "score_category": ["jailbreak"] | "harm" | null, "score_rationale": "...",
     "score_metadata": {...} | "..." | null,
     "scorer_class_identifier": {"__type__": "SelfAskTrueFalseScorer", "__module__": "..."},
     "message_piece_id" | "prompt_request_response_id": "...",   # newer | older name
     "timestamp": "2025-03-01T10:00:00", "objective" | "task": "..."}

Optional fields the integration may add next to the score::

    "prompt": "...", "response": "...",          # the scored exchange (evidence only)
    "conversation_id": "...",                    # PyRIT conversation of the attack
    "labels": {"op_name": "...", ...},           # PyRIT memory labels
    "target_identifier": {"__type__": "OpenAIChatTarget", "model_name": "...", "endpoint": "..."},
    "context": {"application", "endpoint", "model", "model_version", "user", ...}

Scores are red-team results (`redteam_finding`), hence the low default severities. A false or
zero score is not a finding, and neither is a true `SelfAskRefusalScorer` score: that scorer
answers "did the target refuse?", so true means the attack failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.sources import common as c
from smokejumper.domain.alerts import Alert, AlertKind, Evidence, Severity

# Substring of a harm category -> (OWASP ids, ATLAS ids); first match wins.
_CATEGORIES: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = [
    (("jailbreak",), ("LLM01",), ("AML.T0054",)),
    (("injection",), ("LLM01",), ("AML.T0051.000",)),
    (("system_prompt", "system prompt", "prompt_leak", "sysprompt"), ("LLM07",), ("AML.T0056",)),
    (("privacy", "pii", "leak", "password", "secret", "credential"), ("LLM02",), ("AML.T0057",)),
    (("misinformation", "hallucination", "current_events"), ("LLM09",), ()),
    (("malware", "code", "xss", "sql"), ("LLM05",), ()),
]
_REFUSAL_SCORERS = {"SelfAskRefusalScorer"}


def _categories(body: Mapping[str, Any]) -> list[str]:
    value = body.get("score_category")
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    result = []
    for i, item in enumerate(items):
        path = c.join("score_category", i) if isinstance(value, list) else "score_category"
        if not isinstance(item, str):
            c.fail(path, "must be a string or a list of strings")
        if item.strip():
            result.append(item.strip())
    return result


def _value(body: Mapping[str, Any], score_type: str) -> tuple[float, str]:
    """The score as a number in [0, 1] and as display text."""
    raw = body.get("score_value")
    if score_type == "true_false":
        if isinstance(raw, bool):
            return float(raw), str(raw).lower()
        if isinstance(raw, str) and raw.strip().lower() in {"true", "false"}:
            text = raw.strip().lower()
            return float(text == "true"), text
        c.fail("score_value", "must be 'true' or 'false' for a true_false score")
    if isinstance(raw, str):
        try:
            number = float(raw)
        except ValueError:
            c.fail("score_value", "must be a number in [0, 1] for a float_scale score")
        number = c.as_number(number, "score_value")
    else:
        number = c.as_number(raw, "score_value")
    if not 0.0 <= number <= 1.0:
        c.fail("score_value", "must be a number in [0, 1] for a float_scale score")
    return number, f"{number:g}"


def _string_map(body: Mapping[str, Any], key: str, *, strict: bool) -> dict[str, str]:
    """String entries of an object. Identifiers also nest sub-identifiers, which are skipped;
    memory labels are str -> str in PyRIT, so anything else there is not PyRIT's shape."""
    mapping = c.opt_obj(body, key, "") or {}
    result: dict[str, str] = {}
    for k, v in mapping.items():
        path = c.join(key, k)
        if strict:
            if not isinstance(v, str):
                c.fail(path, "must be a string")
            result[c.req_name(k, path)] = v
        elif isinstance(v, str) and (entry := c.name(k)) is not None:
            result[entry] = v
    return result


def _metadata_details(body: Mapping[str, Any]) -> dict[str, c.Scalar]:
    value = body.get("score_metadata")
    if isinstance(value, str):
        return {"metadata": c.detail(value)}
    if value is None:
        return {}
    metadata = c.as_object(value, "score_metadata")
    return {
        c.req_name(f"metadata.{k}", c.join("score_metadata", k)): c.detail(v)
        for k, v in metadata.items()
        if v is not None and c.is_scalar(v)
    }


class PyritNormalizer:
    name = "pyrit"

    def normalize(self, payload: Any) -> Alert:
        body = c.as_object(payload, "")
        score_type = c.req_str(body, "score_type", "")
        if score_type not in {"true_false", "float_scale"}:
            c.fail("score_type", "must be 'true_false' or 'float_scale'")
        value, value_text = _value(body, score_type)
        if value == 0.0:
            c.fail("score_value", f"score is {value_text}: nothing to report")
        identifier = _string_map(body, "scorer_class_identifier", strict=False)
        scorer = c.name(identifier.get("__type__")) or "PyRIT scorer"
        if scorer in _REFUSAL_SCORERS:
            c.fail("score_value", "the target refused: a refusal score is not a finding")
        categories = _categories(body)
        memory_labels = _string_map(body, "labels", strict=True)
        target_identifier = _string_map(body, "target_identifier", strict=False)

        context = c.read_context(c.opt_obj(body, "context", ""), "context")
        target = context.target
        if target.model is None and target_identifier.get("model_name"):
            target = target.model_copy(update={"model": c.name(target_identifier["model_name"])})
        if target.endpoint is None and target_identifier.get("endpoint"):
            target = target.model_copy(update={"endpoint": c.name(target_identifier["endpoint"])})
        raw_time = body.get("timestamp")
        occurred_at = context.occurred_at or (
            None if raw_time is None else c.parse_time(raw_time, "timestamp")
        )

        owasp: list[str] = []
        atlas: list[str] = []
        for category in categories:
            lowered = category.lower()
            for needles, category_owasp, category_atlas in _CATEGORIES:
                if any(needle in lowered for needle in needles):
                    owasp += category_owasp
                    atlas += category_atlas
                    break

        conversation_id = c.name(c.opt_str(body, "conversation_id", ""))
        category_text = ",".join(categories) or "uncategorized"
        op_name = c.name(memory_labels.get("op_name"))
        dedup_key = (
            f"pyrit:{op_name}:{category_text}"
            if op_name
            else f"pyrit:conversation:{conversation_id}"
            if conversation_id
            else None
        )
        piece_id = c.opt_str(body, "message_piece_id", "") or c.opt_str(
            body, "prompt_request_response_id", ""
        )
        details: dict[str, c.Scalar] = {
            "score_id": c.opt_str(body, "id", ""),
            "score_type": score_type,
            "score_value_description": c.opt_str(body, "score_value_description", ""),
            # The rationale is model-written and often quotes the response: evidence only.
            "rationale": c.opt_str(body, "score_rationale", ""),
            "objective": c.opt_str(body, "objective", "") or c.opt_str(body, "task", ""),
            "message_piece_id": piece_id,
            "conversation_id": conversation_id,
        }
        details.update(_metadata_details(body))
        labels = {k: c.label(v) for k, v in memory_labels.items()}
        labels["scorer"] = c.label(scorer)
        if target_identifier.get("__type__"):
            labels["pyrit_target"] = c.label(target_identifier["__type__"])

        return Alert(
            source=self.name,
            kind=AlertKind.REDTEAM_FINDING,
            severity=Severity.MEDIUM if value >= 0.7 else Severity.LOW,
            title=c.title(
                f"PyRIT {scorer} scored {category_text} {value_text}{c.on_target(target)}"
            ),
            description=c.description(
                f"PyRIT red-team score: {scorer} ({score_type}) gave {value_text} "
                f"for {category_text}."
            ),
            principal=context.principal,
            target=target,
            evidence=Evidence(
                prompt=c.evidence_text(c.opt_str(body, "prompt", "")),
                response=c.evidence_text(c.opt_str(body, "response", "")),
                scores={c.req_name(f"{scorer}:{category_text}", "score_value"): value},
                details={k: c.detail(v) for k, v in details.items() if v is not None},
            ),
            labels=labels,
            owasp=c.unique(owasp),
            atlas=c.unique(atlas),
            dedup_key=c.name(dedup_key),
            **c.occurred(occurred_at),
        )
