"""LLM Guard (protectai/llm-guard, library >= 0.3 and llm-guard-api) scan results.

Both shapes LLM Guard produces carry the same information: the SDK's `scan_prompt` /
`scan_output` return `(sanitized, results_valid: {scanner: bool}, results_score: {scanner:
float})`, and llm-guard-api answers `/analyze/prompt` and `/analyze/output` with
`{"sanitized_prompt"|"sanitized_output": str, "is_valid": bool, "scanners": {scanner: float}}`.
Scanner names are the scanner class names (`PromptInjection`, `Secrets`, ...). Risk scores are
in [-1, 1] since llm-guard 0.3.10 (positive means over the scanner's threshold) and in [0, 1]
before; either way a positive score is a failing scanner.

Envelope the integration posts (one scan per event)::

    {
      "direction": "prompt" | "output",           # which scan ran (required)
      "is_valid": false,                          # overall verdict (required)
      "scanners": {"PromptInjection": 1.0, ...},  # risk scores (required)
      "results_valid": {"PromptInjection": false, ...},  # SDK per-scanner verdicts (optional)
      "prompt": "...", "output": "..." | null,    # the scanned text (optional, evidence only)
      "sanitized_prompt" | "sanitized_output": "...",     # ignored
      "application", "endpoint", "model", "model_version",
      "user", "api_key_id", "tenant", "session_id", "ip", "occurred_at"  # context (optional)
    }

Also accepted as the tools emit them: the llm-guard-api answer alone (`sanitized_output`
means an output scan) and the SDK triple as a JSON array. Scores before 0.3.10 had the opposite
sign; a payload marks that with `"llm_guard_version"` below 0.3.10 and its scores are flipped.

Without `results_valid`, a scanner failed when its score is positive. `is_valid: true` is not
an alert. `Secrets` is an input scanner in llm-guard; integrations that also run it over model
output (`scan_prompt([Secrets()], output)`) report that scan with `"direction": "output"`, and
a secret in model output is critical.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.sources import common as c
from smokejumper.domain.alerts import Alert, AlertKind, Evidence, Severity

_DIRECT = "AML.T0051.000"
_JAILBREAK = "AML.T0054"
_LEAKAGE = "AML.T0057"

# Scanner (lower-cased class name) -> (kind, OWASP ids, ATLAS ids).
_INJECTION: dict[str, tuple[AlertKind, tuple[str, ...], tuple[str, ...]]] = {
    "promptinjection": (AlertKind.PROMPT_INJECTION, ("LLM01",), (_DIRECT,)),
    # Hidden Unicode is how instructions are smuggled past a human reader.
    "invisibletext": (AlertKind.PROMPT_INJECTION, ("LLM01",), (_DIRECT,)),
}
_LEAK_SCANNERS = {"secrets", "anonymize", "deanonymize", "sensitive"}
_CONTENT_SCANNERS = {
    "bansubstrings",
    "bantopics",
    "bancompetitors",
    "toxicity",
    "bias",
    "sentiment",
    "emotiondetection",
}
_KIND_PRIORITY = [
    AlertKind.PROMPT_INJECTION,
    AlertKind.DATA_LEAKAGE,
    AlertKind.JAILBREAK,
    AlertKind.UNBOUNDED_CONSUMPTION,
    AlertKind.OTHER,
]


def _classify(scanner: str, direction: str) -> tuple[AlertKind, tuple[str, ...], tuple[str, ...]]:
    key = scanner.lower()
    if key in _INJECTION:
        return _INJECTION[key]
    if key in _LEAK_SCANNERS:
        return AlertKind.DATA_LEAKAGE, ("LLM02",), (_LEAKAGE,)
    if key in _CONTENT_SCANNERS:
        # Disallowed content in the model's answer means its safety behaviour was bypassed;
        # the same scanners on a prompt only say the user wrote something off-policy.
        if direction == "output":
            return AlertKind.JAILBREAK, ("LLM01",), (_JAILBREAK,)
        return AlertKind.OTHER, (), ()
    if key == "tokenlimit":
        return AlertKind.UNBOUNDED_CONSUMPTION, ("LLM10",), ("AML.T0029",)
    if key in {"maliciousurls", "code", "bancode"} and direction == "output":
        return AlertKind.OTHER, ("LLM05",), ()
    if key == "factualconsistency":
        return AlertKind.OTHER, ("LLM09",), ()
    return AlertKind.OTHER, (), ()


def _failed_scanners(
    payload: Mapping[str, Any], scores: dict[str, float]
) -> dict[str, float | None]:
    verdicts = c.opt_obj(payload, "results_valid", "")
    if verdicts is None:
        return {scanner: score for scanner, score in scores.items() if score > 0}
    failed: dict[str, float | None] = {}
    for scanner, ok in verdicts.items():
        path = c.join("results_valid", scanner)
        if not isinstance(ok, bool):
            c.fail(path, "must be true or false")
        if not ok:
            scanner_name = c.req_name(scanner, path)
            failed[scanner_name] = scores.get(scanner_name)
    return failed


# Scanners llm-guard ships only in llm_guard.output_scanners: a bare SDK triple naming one of
# them came from `scan_output`.
_OUTPUT_ONLY = {
    "deanonymize",
    "factualconsistency",
    "json",
    "languagesame",
    "maliciousurls",
    "norefusal",
    "norefusallight",
    "readingtime",
    "relevance",
    "sensitive",
    "urlreachability",
}


def _from_triple(payload: list[Any]) -> dict[str, Any]:
    """`scan_prompt`/`scan_output`'s `(sanitized, results_valid, results_score)` as a body."""
    if len(payload) != 3:
        c.fail("", "must be an object or the [sanitized, results_valid, results_score] triple")
    sanitized, valid, scores = payload
    if not isinstance(sanitized, str):
        c.fail("0", "must be the sanitized text")
    verdicts = c.as_object(valid, "1")
    c.as_object(scores, "2")
    output = any(str(name).lower() in _OUTPUT_ONLY for name in verdicts)
    return {
        "direction": "output" if output else "prompt",
        "is_valid": all(v is True for v in verdicts.values()),
        "scanners": scores,
        "results_valid": verdicts,
    }


def _direction(body: Mapping[str, Any]) -> str:
    if "direction" not in body:
        # llm-guard-api names its answer after the scan: /analyze/output -> sanitized_output.
        if "sanitized_output" in body:
            return "output"
        if "sanitized_prompt" in body:
            return "prompt"
    direction = c.req_str(body, "direction", "")
    if direction not in {"prompt", "output"}:
        c.fail("direction", "must be 'prompt' or 'output'")
    return direction


def _old_sign(body: Mapping[str, Any]) -> bool:
    """Whether scores use the pre-0.3.10 sign, told by an `llm_guard_version` field."""
    version = c.opt_str(body, "llm_guard_version", "")
    if version is None:
        return False
    parts = version.split(".")[:3]
    if not all(p.isdigit() for p in parts) or len(parts) < 2:
        c.fail("llm_guard_version", "must be a version such as 0.3.16")
    numbers = tuple(int(p) for p in parts) + (0,) * (3 - len(parts))
    return numbers < (0, 3, 10)


class LlmGuardNormalizer:
    name = "llm-guard"

    def normalize(self, payload: Any) -> Alert:
        body = _from_triple(payload) if isinstance(payload, list) else c.as_object(payload, "")
        direction = _direction(body)
        is_valid = c.req_bool(body, "is_valid", "")
        raw_scores = c.obj(body, "scanners", "")
        scores = {
            c.req_name(scanner, c.join("scanners", scanner)): c.as_number(
                value, c.join("scanners", scanner)
            )
            for scanner, value in raw_scores.items()
        }
        for scanner, value in scores.items():
            if not -1.0 <= value <= 1.0:
                c.fail(c.join("scanners", scanner), "must be a risk score in [-1, 1]")
        if _old_sign(body):
            # Before 0.3.10 a passing scanner scored positive: flip to today's sign.
            scores = {scanner: -value for scanner, value in scores.items()}
        if is_valid:
            c.fail("is_valid", "is_valid is true: nothing to report")
        failed = _failed_scanners(body, scores)
        context = c.read_context(body, "")

        kinds: list[AlertKind] = []
        owasp: list[str] = []
        atlas: list[str] = []
        for scanner in failed:
            kind, scanner_owasp, scanner_atlas = _classify(scanner, direction)
            kinds.append(kind)
            owasp += scanner_owasp
            atlas += scanner_atlas
        kind = next((k for k in _KIND_PRIORITY if k in kinds), AlertKind.OTHER)

        top = max((s for s in failed.values() if s is not None), default=0.0)
        severity = c.severity_from_score(top)
        failed_lower = {s.lower() for s in failed}
        if direction == "prompt" and kind is AlertKind.DATA_LEAKAGE:
            # Input scanners redact before the model sees the text: a user sharing data, not
            # the system leaking it.
            severity = c.cap_severity(severity, Severity.MEDIUM)
        if direction == "output" and "secrets" in failed_lower:
            severity = Severity.CRITICAL

        # Scanner names come from the tool's configuration, never from the scanned text.
        names = ", ".join(failed) or "no attributed scanner"
        subject = "prompt" if direction == "prompt" else "model output"
        return Alert(
            source=self.name,
            kind=kind,
            severity=severity,
            title=c.title(f"LLM Guard {names} flagged {subject}{c.on_target(context.target)}"),
            description=c.description(
                f"LLM Guard rejected the {subject}: {len(failed)} scanner(s) failed "
                f"({names}). Scores are in the evidence."
            ),
            principal=context.principal,
            target=context.target,
            evidence=Evidence(
                prompt=c.evidence_text(c.opt_str(body, "prompt", "")),
                response=c.evidence_text(c.opt_str(body, "output", "")),
                scores=scores,
                details={"failed_scanners": c.detail(",".join(failed))},
            ),
            labels={"direction": direction},
            owasp=c.unique(owasp),
            atlas=c.unique(atlas),
            **c.occurred(context.occurred_at),
        )
