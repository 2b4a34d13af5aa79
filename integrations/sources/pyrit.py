"""PyRIT (Azure/PyRIT) scores, as `Score.to_dict()` serialises them: one score or a list.

    {"id": "...", "score_value": "true" | "False" | "0.75", "score_value_description": "...",
     "score_type": "true_false" | "float_scale",
     "score_category": ["jailbreak"] | "harm" | null,     # a string in older releases
     "score_rationale": "...", "score_metadata": {...} | "..." | null,
     "scorer_class_identifier": {...},
     "message_piece_id" | "prompt_request_response_id": "...",   # newer | older name
     "timestamp": "2025-03-01T10:00:00+00:00", "objective" | "task": "..."}

The scorer identifier is a `ComponentIdentifier.to_dict()` in current releases
(`{"class_name": "SelfAskRefusalScorer", "class_module": "pyrit.score...", "hash",
"pyrit_version", <params>, "children": {...}}`) and `{"__type__", "__module__",
"sub_identifier"}` in older ones; both are read.

A list of scores (`[s.to_dict() for s in scores]`, as a scorer or an attack result returns
them) is one alert about its strongest finding, with every finding's score in the evidence.

Optional fields an integration may add next to a score::

    "prompt": "...", "response": "...",          # the scored exchange (evidence only)
    "conversation_id": "...",                    # PyRIT conversation of the attack
    "labels": {"op_name": "...", ...},           # PyRIT memory labels
    "target_identifier": {"class_name" | "__type__": "OpenAIChatTarget",
                          "model_name": "...", "endpoint": "..."},
    "context": {"application", "endpoint", "model", "model_version", "user", ...}

Scores are red-team results (`redteam_finding`), hence the low default severities. A false or
zero score is not a finding, and neither is any score of `SelfAskRefusalScorer`: that scorer
answers "did the target refuse?", so true means the attack failed (and false says only that
the target answered, not that the answer was harmful).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.sources import common as c
from smokejumper.domain.alerts import Alert, AlertKind, Evidence, Severity, Target

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
_MAX_SCORES = 1000


@dataclass(frozen=True)
class _Score:
    body: Mapping[str, Any]
    path: str
    score_type: str
    value: float
    value_text: str
    scorer: str
    categories: list[str]
    # Why this score is no finding (None when it is one).
    no_finding: str | None


def _categories(body: Mapping[str, Any], path: str) -> list[str]:
    value = body.get("score_category")
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    result = []
    for i, item in enumerate(items):
        item_path = c.join(path, "score_category")
        if isinstance(value, list):
            item_path = c.join(item_path, i)
        if not isinstance(item, str):
            c.fail(item_path, "must be a string or a list of strings")
        if item.strip():
            result.append(item.strip())
    return result


def _value(body: Mapping[str, Any], score_type: str, path: str) -> tuple[float, str]:
    """The score as a number in [0, 1] and as display text."""
    raw = body.get("score_value")
    value_path = c.join(path, "score_value")
    if score_type == "true_false":
        if isinstance(raw, bool):
            return float(raw), str(raw).lower()
        if isinstance(raw, str) and raw.strip().lower() in {"true", "false"}:
            text = raw.strip().lower()
            return float(text == "true"), text
        c.fail(value_path, "must be 'true' or 'false' for a true_false score")
    if isinstance(raw, str):
        try:
            number = float(raw)
        except ValueError:
            c.fail(value_path, "must be a number in [0, 1] for a float_scale score")
        number = c.as_number(number, value_path)
    else:
        number = c.as_number(raw, value_path)
    if not 0.0 <= number <= 1.0:
        c.fail(value_path, "must be a number in [0, 1] for a float_scale score")
    return number, f"{number:g}"


def _string_map(body: Mapping[str, Any], key: str, path: str, *, strict: bool) -> dict[str, str]:
    """String entries of an object. Identifiers also hold hashes, params and children, which
    are skipped; memory labels are str -> str in PyRIT, so anything else there is not PyRIT's."""
    mapping = c.opt_obj(body, key, path) or {}
    result: dict[str, str] = {}
    for k, v in mapping.items():
        entry_path = c.join(c.join(path, key), k)
        if strict:
            if not isinstance(v, str):
                c.fail(entry_path, "must be a string")
            result[c.req_name(k, entry_path)] = v
        elif isinstance(v, str) and (entry := c.name(k)) is not None:
            result[entry] = v
    return result


def _class_name(identifier: Mapping[str, str]) -> str | None:
    """`class_name` of a current ComponentIdentifier, `__type__` of an older identifier."""
    return c.name(identifier.get("class_name")) or c.name(identifier.get("__type__"))


def _metadata_details(body: Mapping[str, Any], path: str) -> dict[str, c.Scalar]:
    value = body.get("score_metadata")
    if isinstance(value, str):
        return {"metadata": c.detail(value)}
    if value is None:
        return {}
    metadata_path = c.join(path, "score_metadata")
    metadata = c.as_object(value, metadata_path)
    return {
        c.req_name(f"metadata.{k}", c.join(metadata_path, k)): c.detail(v)
        for k, v in metadata.items()
        if v is not None and c.is_scalar(v)
    }


def _read(body: Mapping[str, Any], path: str) -> _Score:
    score_type = c.req_str(body, "score_type", path)
    if score_type not in {"true_false", "float_scale"}:
        c.fail(c.join(path, "score_type"), "must be 'true_false' or 'float_scale'")
    value, value_text = _value(body, score_type, path)
    identifier = _string_map(body, "scorer_class_identifier", path, strict=False)
    scorer = _class_name(identifier) or "PyRIT scorer"
    no_finding = None
    if scorer in _REFUSAL_SCORERS:
        no_finding = "a refusal score is not a finding: true means the target refused"
    elif value == 0.0:
        no_finding = f"score is {value_text}: nothing to report"
    return _Score(
        body=body,
        path=path,
        score_type=score_type,
        value=value,
        value_text=value_text,
        scorer=scorer,
        categories=_categories(body, path),
        no_finding=no_finding,
    )


def _scores(payload: Any) -> list[_Score]:
    if not isinstance(payload, list):
        return [_read(c.as_object(payload, ""), "")]
    if not payload:
        c.fail("", "must be a score or a non-empty list of scores")
    if len(payload) > _MAX_SCORES:
        c.fail("", f"must hold at most {_MAX_SCORES} scores")
    return [
        _read(c.as_object(item, c.join("", i)), c.join("", i)) for i, item in enumerate(payload)
    ]


def _score_key(score: _Score) -> str:
    return c.req_name(
        f"{score.scorer}:{','.join(score.categories) or 'uncategorized'}",
        c.join(score.path, "score_value"),
    )


class PyritNormalizer:
    name = "pyrit"

    def normalize(self, payload: Any) -> Alert:
        scores = _scores(payload)
        findings = [s for s in scores if s.no_finding is None]
        if not findings:
            if len(scores) == 1:
                c.fail(c.join(scores[0].path, "score_value"), scores[0].no_finding or "")
            c.fail("", f"none of the {len(scores)} scores is a finding: nothing to report")
        # The strongest finding; the first of equals, so the result follows the input order.
        best = max(findings, key=lambda s: s.value)
        body, path = best.body, best.path
        memory_labels = _string_map(body, "labels", path, strict=True)
        target_identifier = _string_map(body, "target_identifier", path, strict=False)
        context = c.read_context(c.opt_obj(body, "context", path), c.join(path, "context"))
        target = _target(context.target, target_identifier)
        raw_time = body.get("timestamp")
        occurred_at = context.occurred_at or (
            None if raw_time is None else c.parse_time(raw_time, c.join(path, "timestamp"))
        )
        owasp, atlas = _taxonomy(findings)
        conversation_id = c.name(c.opt_str(body, "conversation_id", path))
        category_text = ",".join(best.categories) or "uncategorized"
        dedup_key = _dedup_key(c.name(memory_labels.get("op_name")), category_text, conversation_id)
        details = _details(best, path, conversation_id)
        if len(scores) > 1:
            details["scores_sent"] = len(scores)
            details["findings"] = len(findings)
        details.update(_metadata_details(body, path))
        labels = {k: c.label(v) for k, v in memory_labels.items()}
        labels["scorer"] = c.label(best.scorer)
        if target_class := _class_name(target_identifier):
            labels["pyrit_target"] = c.label(target_class)
        evidence_scores: dict[str, float] = {}
        for score in findings:
            key = _score_key(score)
            evidence_scores[key] = max(score.value, evidence_scores.get(key, 0.0))

        return Alert(
            source=self.name,
            kind=AlertKind.REDTEAM_FINDING,
            severity=Severity.MEDIUM if best.value >= 0.7 else Severity.LOW,
            title=c.title(
                f"PyRIT {best.scorer} scored {category_text} {best.value_text}{c.on_target(target)}"
            ),
            description=c.description(
                f"PyRIT red-team score: {best.scorer} ({best.score_type}) gave {best.value_text} "
                f"for {category_text}."
            ),
            principal=context.principal,
            target=target,
            evidence=Evidence(
                prompt=c.evidence_text(c.opt_str(body, "prompt", path)),
                response=c.evidence_text(c.opt_str(body, "response", path)),
                scores=evidence_scores,
                details={k: c.detail(v) for k, v in details.items() if v is not None},
            ),
            labels=labels,
            owasp=c.unique(owasp),
            atlas=c.unique(atlas),
            dedup_key=c.name(dedup_key),
            **c.occurred(occurred_at),
        )


def _target(target: Target, identifier: Mapping[str, str]) -> Target:
    """The context's target, with the model and endpoint PyRIT's target identifier names
    where the context names none."""
    if target.model is None and identifier.get("model_name"):
        target = target.model_copy(update={"model": c.name(identifier["model_name"])})
    if target.endpoint is None and identifier.get("endpoint"):
        target = target.model_copy(update={"endpoint": c.name(identifier["endpoint"])})
    return target


def _taxonomy(findings: list[_Score]) -> tuple[list[str], list[str]]:
    owasp: list[str] = []
    atlas: list[str] = []
    for category in (category for score in findings for category in score.categories):
        lowered = category.lower()
        for needles, category_owasp, category_atlas in _CATEGORIES:
            if any(needle in lowered for needle in needles):
                owasp += category_owasp
                atlas += category_atlas
                break
    return owasp, atlas


def _dedup_key(op_name: str | None, categories: str, conversation_id: str | None) -> str | None:
    if op_name:
        return f"pyrit:{op_name}:{categories}"
    return f"pyrit:conversation:{conversation_id}" if conversation_id else None


def _details(best: _Score, path: str, conversation_id: str | None) -> dict[str, c.Scalar]:
    body = best.body
    piece_id = c.opt_str(body, "message_piece_id", path) or c.opt_str(
        body, "prompt_request_response_id", path
    )
    return {
        "score_id": c.opt_str(body, "id", path),
        "score_type": best.score_type,
        "score_value_description": c.opt_str(body, "score_value_description", path),
        # The rationale is model-written and often quotes the response: evidence only.
        "rationale": c.opt_str(body, "score_rationale", path),
        "objective": c.opt_str(body, "objective", path) or c.opt_str(body, "task", path),
        "message_piece_id": piece_id,
        "conversation_id": conversation_id,
    }
