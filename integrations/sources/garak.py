"""garak (NVIDIA/garak) red-team results: one `report.jsonl` eval row or one `hitlog.jsonl` row.

Eval rows (`report.jsonl`, `"entry_type": "eval"`), one per probe x detector::

    {"entry_type": "eval", "probe": "promptinject.HijackHateHumans",
     "detector": "promptinject.AttackRogueString",
     "passed": 7, "fails": 3, "nones": 0, "total_evaluated": 10, "total_processed": 10}

garak < 0.10 wrote `"total"` instead of `total_evaluated`/`fails`; both are read. Eval rows carry
no run id or target: the shipper may copy `run_id` and `generator` onto them from the report's
`init` / `start_run setup` rows.

Hit rows (`hitlog.jsonl`), one per failing output::

    {"goal": "...", "prompt": <Conversation dict> | "...", "output": <Message dict> | "...",
     "triggers": [...] | null, "score": 1.0, "run_id": "...", "attempt_id": "...",
     "attempt_seq": 3, "attempt_idx": 0, "generator": "openai gpt-4o-mini",
     "probe": "promptinject.HijackHateHumans", "detector": "promptinject.AttackRogueString",
     "generations_per_prompt": 5}

garak >= 0.11 writes `prompt` as `{"turns": [{"role", "content": {"text", "lang", ...}}]}`,
`output` as `{"text", "lang", ...}` and `triggers`; older versions wrote plain strings and
`trigger`. Both rows may also carry an optional `"context"` object (the common context keys)
added by the shipper.

Findings are `redteam_finding`: a lab result, not a live attack, hence the lower severities.
A row of another `entry_type`, or an eval in which every output passed, is not a finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.sources import common as c
from smokejumper.domain.alerts import Alert, AlertKind, Evidence, Severity, Target

# Probe module -> (OWASP ids, ATLAS ids).
_PROBE_FAMILIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "promptinject": (("LLM01",), ("AML.T0051.000",)),
    "encoding": (("LLM01",), ("AML.T0051.000",)),
    "latentinjection": (("LLM01",), ("AML.T0051.001",)),
    "dan": (("LLM01",), ("AML.T0054",)),
    "tap": (("LLM01",), ("AML.T0054",)),
    "suffix": (("LLM01",), ("AML.T0054",)),
    "grandma": (("LLM01",), ("AML.T0054",)),
    "goodside": (("LLM01",), ("AML.T0051.000",)),
    "visual_jailbreak": (("LLM01",), ("AML.T0054",)),
    "leakreplay": (("LLM02",), ("AML.T0057",)),
    "divergence": (("LLM02",), ("AML.T0057",)),
    "apikey": (("LLM02",), ("AML.T0057",)),
    "sysprompt_extraction": (("LLM07",), ("AML.T0056",)),
    "xss": (("LLM05",), ()),
    "web_injection": (("LLM05",), ()),
    "exploitation": (("LLM05",), ()),
    "ansiescape": (("LLM05",), ()),
    "malwaregen": (("LLM05",), ()),
    "packagehallucination": (("LLM09", "LLM03"), ("AML.T0060",)),
    "snowball": (("LLM09",), ()),
    "misleading": (("LLM09",), ()),
    "fileformats": (("LLM03",), ("AML.T0010",)),
}


def _strip_prefix(plugin: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if plugin.startswith(prefix):
            return plugin[len(prefix) :]
    return plugin


def _taxonomy(probe: str) -> tuple[list[str], list[str]]:
    owasp, atlas = _PROBE_FAMILIES.get(probe.split(".", 1)[0].lower(), ((), ()))
    return list(owasp), list(atlas)


def _text(value: Any, path: str) -> str | None:
    """A prompt or output as text, from a plain string or a garak Message/Conversation dict."""
    if value is None or isinstance(value, str):
        return value
    message = c.as_object(value, path)
    if "turns" in message:
        turns = c.opt_list(message, "turns", path)
        for i in reversed(range(len(turns))):
            turn_path = c.join(c.join(path, "turns"), i)
            turn = c.as_object(turns[i], turn_path)
            if c.opt_str(turn, "role", turn_path) in {"user", None}:
                return _text(turn.get("content"), c.join(turn_path, "content"))
        return None
    return c.opt_str(message, "text", path)


def _triggers(row: Mapping[str, Any]) -> str | None:
    value = row.get("triggers", row.get("trigger"))
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    # Triggers are the strings a detector looks for in the output.
    return c.clamp(" | ".join(item for item in items if isinstance(item, str)), c.DETAIL_TEXT_MAX)


def _target(generator: str | None, context: c.Context) -> tuple[Target, dict[str, str]]:
    """`"openai gpt-4o"` is garak's `"{target_type} {target_name}"`."""
    if not generator or not generator.strip():
        return context.target, {}
    generator_type, _, model = generator.strip().partition(" ")
    target = context.target
    if target.model is None:
        target = target.model_copy(update={"model": c.name(model or generator_type)})
    return target, {"generator": c.label(generator.strip())}


class GarakNormalizer:
    name = "garak"

    def normalize(self, payload: Any) -> Alert:
        row = c.as_object(payload, "")
        entry_type = c.opt_str(row, "entry_type", "")
        if entry_type is not None:
            if entry_type != "eval":
                c.fail("entry_type", "no finding: only 'eval' report rows are findings")
            return self._eval(row)
        if "attempt_id" in row or "output" in row:
            return self._hit(row)
        c.fail("entry_type", "not a garak report eval row or hitlog row")

    def _common(self, row: Mapping[str, Any]) -> tuple[str, str, str | None, c.Context]:
        probe = _strip_prefix(c.req_str(row, "probe", ""), ("garak.probes.", "probes."))
        raw_detector = row.get("detector")
        if isinstance(raw_detector, list):
            # A baseline hit lists every detector that scored it.
            detector = ",".join(d for d in raw_detector if isinstance(d, str))
        else:
            detector = c.req_str(row, "detector", "")
        detector = _strip_prefix(detector, ("garak.detectors.", "detectors.", "detector."))
        if not detector.strip():
            c.fail("detector", "is required and must name a detector")
        run_id = c.name(c.opt_str(row, "run_id", ""))
        return probe, detector, run_id, c.read_context(c.opt_obj(row, "context", ""), "context")

    def _alert(
        self,
        *,
        row: Mapping[str, Any],
        severity: Severity,
        what: str,
        evidence: Evidence,
        probe: str,
        run_id: str | None,
        context: c.Context,
    ) -> Alert:
        target, labels = _target(c.opt_str(row, "generator", ""), context)
        owasp, atlas = _taxonomy(probe)
        labels["probe"] = c.label(probe)
        return Alert(
            source=self.name,
            kind=AlertKind.REDTEAM_FINDING,
            severity=severity,
            title=c.title(f"garak probe {probe} {what}{c.on_target(target)}"),
            description=c.description(
                f"garak red-team run {run_id or '(unknown run)'}: probe {probe} {what}."
            ),
            principal=context.principal,
            target=target,
            evidence=evidence,
            labels=labels,
            owasp=owasp,
            atlas=atlas,
            # Per run and probe: one case per weakness found in one scan, hits and evals alike.
            dedup_key=c.name(f"garak:{run_id}:{probe}" if run_id else f"garak:{probe}"),
            **c.occurred(context.occurred_at),
        )

    def _eval(self, row: Mapping[str, Any]) -> Alert:
        probe, detector, run_id, context = self._common(row)
        passed = c.req_int(row, "passed", "")
        total_key = "total_evaluated" if row.get("total_evaluated") is not None else "total"
        total = c.req_int(row, total_key, "")
        if passed < 0 or passed > total:
            c.fail("passed", f"must be between 0 and {total_key}")
        if passed == total:
            c.fail("passed", f"no finding: all {total} outputs passed")
        failed = total - passed
        rate = failed / total
        details: dict[str, c.Scalar] = {
            "detector": c.detail(detector),
            "passed": passed,
            "failed": failed,
            "total": total,
            "nones": c.opt_int(row, "nones", ""),
            "run_id": run_id,
        }
        return self._alert(
            row=row,
            severity=Severity.MEDIUM if rate >= 0.5 else Severity.LOW,
            what=f"failed {failed}/{total} outputs ({detector})",
            evidence=Evidence(
                scores={"failure_rate": round(rate, 6)},
                details={k: v for k, v in details.items() if v is not None},
            ),
            probe=probe,
            run_id=run_id,
            context=context,
        )

    def _hit(self, row: Mapping[str, Any]) -> Alert:
        probe, detector, run_id, context = self._common(row)
        score = c.opt_number(row, "score", "")
        if score is None:
            c.fail("score", "is required and must be a number")
        details: dict[str, c.Scalar] = {
            "detector": c.detail(detector),
            "run_id": run_id,
            "attempt_id": c.opt_str(row, "attempt_id", ""),
            "attempt_seq": c.opt_int(row, "attempt_seq", ""),
            "attempt_idx": c.opt_int(row, "attempt_idx", ""),
            "generations_per_prompt": c.opt_int(row, "generations_per_prompt", ""),
            "goal": c.opt_str(row, "goal", ""),
            "triggers": _triggers(row),
        }
        return self._alert(
            row=row,
            severity=Severity.MEDIUM if score >= 0.5 else Severity.LOW,
            what=f"hit ({detector})",
            evidence=Evidence(
                prompt=c.evidence_text(_text(row.get("prompt"), "prompt")),
                response=c.evidence_text(_text(row.get("output"), "output")),
                scores={"detector_score": score},
                details={k: c.detail(v) for k, v in details.items() if v is not None},
            ),
            probe=probe,
            run_id=run_id,
            context=context,
        )
