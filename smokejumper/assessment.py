"""Reading an incident's alerts the way its playbooks need them: who, what and how
(`context_of`), and what their responses gave away (`leak_of`).

Pure functions over normalized alerts (the JSON intake stores), shared by the activities
that read them from the store and by `playbooks dry-run`, which has only the alert it was
given: a rehearsal takes the branches the real incident would.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from smokejumper.domain.response import DOCUMENTS_AT_MOST, IncidentContext, Vector
from smokejumper.leakage import LeakClassifier
from smokejumper.redaction import find

PHRASE_CHARS = 120

# Prompts that ask the model for what it must not give: the leak was elicited, so the
# principal behind it is blocked, not just the data contained.
ELICITATION = re.compile(
    r"(?i)\b(?:ignore|disregard|forget) (?:all |any |the |your )?(?:previous|prior|above)\b"
    r"|\b(?:repeat|print|reveal|show|output|tell me) (?:me )?(?:your|the) "
    r"(?:system prompt|instructions|prompt|rules|configuration)\b"
    r"|\b(?:password|api key|secret|credentials?|connection string|access key)s?\b"
    r"|\b(?:list|dump|export) (?:all )?(?:users|customers|emails|records)\b"
)
_ATTACK_KINDS = frozenset({"prompt_injection", "jailbreak", "model_extraction"})
_AGENTIC_ATLAS = frozenset({"AML.T0053", "AML.T0086"})
_INDIRECT_ATLAS = frozenset({"AML.T0051.001"})
_DOCUMENT_DETAIL = re.compile(r"^document_\d+$")
_USAGE_KEYS = ("requests_per_minute", "tokens", "requests", "cost_usd")


def _details(alert: dict[str, Any]) -> dict[str, Any]:
    evidence = alert.get("evidence") or {}
    return dict(evidence.get("details") or {})


def tool_calls_of(alert: dict[str, Any]) -> list[Any]:
    raw = _details(alert).get("tool_calls")
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return [raw]
        return parsed if isinstance(parsed, list) else [parsed]
    count = _details(alert).get("tool_calls_executed")
    return [None] * int(count) if isinstance(count, int | float) and count > 0 else []


def _vector(labels: dict[str, str], atlas: set[str], tool_calls: int, spans: set[str]) -> Vector:
    label = labels.get("vector", "").lower()
    if tool_calls or "agentic" in label or atlas & _AGENTIC_ATLAS:
        return "agentic"
    if "indirect" in label or atlas & _INDIRECT_ATLAS or spans & {"document", "tool"}:
        return "indirect"
    return "direct"


def _documents(alert: dict[str, Any], labels: dict[str, str]) -> list[str]:
    details = _details(alert)
    named = labels.get("document_id") or details.get("document_id")
    if isinstance(named, str) and named:
        return [d.strip() for d in named.split(",") if d.strip()]
    # No id: the content's hash names it, which a retriever can compute for its chunks too.
    return [
        "sha256:" + hashlib.sha256(str(value).encode("utf-8")).hexdigest()
        for key, value in sorted(details.items())
        if _DOCUMENT_DETAIL.match(key) and value
    ]


def _attack_phrase(alert: dict[str, Any]) -> str | None:
    evidence = alert.get("evidence") or {}
    prompt = evidence.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    spans = [s for s in evidence.get("matched_spans") or [] if s.get("field") == "prompt"]
    text = prompt[spans[0]["start"] : spans[0]["end"]] if spans else prompt
    phrase = " ".join(text.split())[:PHRASE_CHARS].strip()
    # A phrase holding personal data or a secret would end up in a filter file and a
    # workflow history: better no rule than that.
    return phrase if len(phrase) >= 8 and not find(phrase) else None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


def context_of(
    *,
    incident_id: int,
    ref: str,
    kind: str,
    severity: str,
    alerts: Sequence[dict[str, Any]],
) -> IncidentContext:
    """The incident's context from its alerts (normalized JSON), the first alert first."""
    first = alerts[0] if alerts else {}
    labels = {str(k): str(v) for k, v in (first.get("labels") or {}).items()}
    atlas: set[str] = set()
    owasp: list[str] = []
    # Insertion-ordered: the first documents named are the ones listed.
    documents: dict[str, None] = {}
    tool_calls = 0
    spans: set[str] = set()
    details: dict[str, Any] = {}
    for alert in alerts:
        atlas |= set(alert.get("atlas") or [])
        owasp += [o for o in alert.get("owasp") or [] if o not in owasp]
        tool_calls += len(tool_calls_of(alert))
        matched = (alert.get("evidence") or {}).get("matched_spans") or []
        spans |= {str(span.get("field", "")) for span in matched}
        for document in _documents(alert, {**labels, **(alert.get("labels") or {})}):
            documents.setdefault(document)
        for key, value in _details(alert).items():
            details.setdefault(key, value)
    principal = first.get("principal") or {}
    target = first.get("target") or {}
    usage = {
        key: float(details[key])
        for key in _USAGE_KEYS
        if isinstance(details.get(key), int | float) and not isinstance(details[key], bool)
    }
    return IncidentContext(
        incident_id=incident_id,
        ref=ref,
        kind=kind,
        severity=severity,
        user=principal.get("user"),
        api_key_id=principal.get("api_key_id"),
        tenant=principal.get("tenant"),
        session_id=principal.get("session_id"),
        application=target.get("application"),
        endpoint=target.get("endpoint"),
        model=target.get("model"),
        model_version=target.get("model_version"),
        labels=labels,
        owasp=owasp,
        atlas=sorted(atlas),
        vector=_vector(labels, atlas, tool_calls, spans),
        documents=list(documents)[:DOCUMENTS_AT_MOST],
        documents_left_out=max(0, len(documents) - DOCUMENTS_AT_MOST),
        data_source=labels.get("data_source") or _text(details.get("data_source")),
        attack_phrase=_attack_phrase(first) if first else None,
        tool_calls=tool_calls,
        expected_digest=_text(details.get("expected_digest")),
        actual_digest=_text(details.get("actual_digest")),
        registry=labels.get("registry") or _text(details.get("registry")),
        usage=usage,
    )


def leak_of(
    kind: str, alerts: Sequence[dict[str, Any]], classifier: LeakClassifier
) -> tuple[dict[str, int], set[str], bool]:
    """What the alerts' responses (a prompt, for a prompt-side DLP alert) gave away: kind
    counts, the key ids to revoke, and whether a prompt asked for it."""
    counts: dict[str, int] = {}
    key_ids: set[str] = set()
    elicited = kind in _ATTACK_KINDS
    for alert in alerts:
        evidence = alert.get("evidence") or {}
        prompt, response = evidence.get("prompt"), evidence.get("response")
        # A prompt is what left only when a DLP check flagged the input itself (data sent
        # to a model provider); an injection's prompt is the attacker's, not our data.
        leaked = response or (prompt if kind == "data_leakage" else None)
        if leaked:
            found = classifier.classify(leaked)
            for name, n in found.counts.items():
                counts[name] = counts.get(name, 0) + n
            key_ids |= found.key_ids
        if prompt and response and ELICITATION.search(prompt):
            elicited = True
    return counts, key_ids, elicited and bool(counts)


def categories_of(counts: dict[str, int]) -> list[str]:
    return [category.value for category in LeakClassifier.summary(counts)]


def json_tool_calls(alerts: Sequence[dict[str, Any]], ids: Sequence[str]) -> str:
    calls = [
        {"alert": alert_id, "occurred_at": alert.get("occurred_at"), "call": call}
        for alert, alert_id in zip(alerts, ids, strict=True)
        for call in tool_calls_of(alert)
    ]
    return json.dumps(calls, indent=2, sort_keys=True, default=str) if calls else ""
