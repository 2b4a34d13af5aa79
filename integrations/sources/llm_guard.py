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


class LlmGuardNormalizer:
    name = "llm-guard"

    def normalize(self, payload: Any) -> Alert:
        body = c.as_object(payload, "")
        direction = c.req_str(body, "direction", "")
        if direction not in {"prompt", "output"}:
            c.fail("direction", "must be 'prompt' or 'output'")
        is_valid = c.req_bool(body, "is_valid", "")
        raw_scores = c.obj(body, "scanners", "")
        scores = {
            c.req_name(scanner, c.join("scanners", scanner)): c.as_number(
                value, c.join("scanners", scanner)
            )
            for scanner, value in raw_scores.items()
        }
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
