"""garak (NVIDIA/garak) red-team results: whole `report.jsonl` and `hitlog.jsonl` files.

A report is a stream of entries, each with an `entry_type`. In the order garak writes them::

    {"entry_type": "start_run setup", "transient.run_id": "<uuid>",
     "plugins.target_type": "openai", "plugins.target_name": "gpt-4o", ...}
    {"entry_type": "init", "garak_version": "0.17.1", "start_time": "...", "run": "<uuid>"}
    {"entry_type": "attempt", ...}        one per prompt, twice (status 1 sent, 2 evaluated)
    {"entry_type": "eval", "probe": "dan.Dan_11_0", "detector": "dan.DAN",
     "passed": 0, "fails": 2, "nones": 0, "total_evaluated": 2, "total_processed": 2}
    {"entry_type": "completion", "end_time": "...", "run": "<uuid>"}
    {"entry_type": "digest", "meta": {"run_uuid": "<uuid>", "target_type": ..., ...}, ...}

plus `plugin_cache`, `payload_init` and `probe_summary` entries. Eval entries carry no run id
or target: they are read with the run and generator of the `start_run setup` / `init` lines
before them in the same file (a shipper may also copy `run_id` and `generator` onto them).
garak before 0.13 wrote `plugins.model_type` / `model_name`, before 0.10 `total` instead of
`total_evaluated` / `fails`; both are read.

Hit entries (`hitlog.jsonl`, no `entry_type`), one per failing output::

    {"goal": "...", "prompt": {"turns": [...]} | "...", "output": {"text": ...} | "...",
     "triggers": [...] | null, "score": 1.0, "run_id": "<uuid>", "attempt_id": "<uuid>",
     "attempt_seq": 0, "attempt_idx": 0, "generator": "openai gpt-4o",
     "probe": "dan.Dan_11_0", "detector": "dan.DAN", "generations_per_prompt": 5}

`generator` is garak's `"{target_type} {target_name}"`; a run without a target name writes
`"test.Repeat None"`, which names no model. Entries may carry an optional `"context"` object
(the common context keys) added by a shipper.

Findings are `redteam_finding`: a lab result, not a live attack, hence the lower severities.
The hits and failing evals of one run are one incident (dedup key `garak:<run id>`). Every
other entry, and an eval in which every output passed, is understood and is no finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.sources import common as c
from smokejumper.domain.alerts import Alert, AlertKind, Evidence, Severity, Target
from smokejumper.intake.streams import NoFinding, StreamState

# What garak writes for a target it was given no name for.
_NO_NAME = {"", "none", "null"}

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


def _generator(target_type: str | None, target_name: str | None) -> str | None:
    """garak's own `"{target_type} {target_name}"`, from a setup or digest entry."""
    if not target_type:
        return None
    return f"{target_type} {target_name}" if target_name else target_type


def _target(generator: str | None, context: c.Context) -> tuple[Target, dict[str, str]]:
    """`"openai gpt-4o"` is garak's `"{target_type} {target_name}"`; the name is the model."""
    if not generator or not generator.strip():
        return context.target, {}
    generator_type, _, model = generator.strip().partition(" ")
    model = model.strip()
    target = context.target
    if model.lower() in _NO_NAME:
        # No target name: the model is unknown, not a model called "None".
        return target, {"generator": c.label(generator_type)}
    if target.model is None:
        target = target.model_copy(update={"model": c.name(model)})
    return target, {"generator": c.label(generator.strip())}


def _remember(row: Mapping[str, Any], entry_type: str, state: StreamState) -> None:
    """Keep what later eval lines of the same file need: the run and its generator."""
    if entry_type == "start_run setup":
        run_id = row.get("transient.run_id")
        target_type = row.get("plugins.target_type", row.get("plugins.model_type"))
        target_name = row.get("plugins.target_name", row.get("plugins.model_name"))
    elif entry_type == "digest":
        found = row.get("meta")
        meta: Mapping[str, Any] = found if isinstance(found, dict) else {}
        run_id = meta.get("run_uuid")
        target_type, target_name = meta.get("target_type"), meta.get("target_name")
    else:
        run_id, target_type, target_name = row.get("run"), None, None
    if isinstance(run_id, str) and run_id.strip():
        if state.get("run_id") != run_id:
            # A new run in the same stream: its generator is not the last one's.
            state.pop("generator", None)
        state["run_id"] = run_id
    if isinstance(target_type, str) and target_type.strip():
        name = target_name if isinstance(target_name, str) else None
        state["generator"] = _generator(target_type.strip(), name)
    version = row.get("garak_version")
    if isinstance(version, str) and version.strip():
        state["garak_version"] = version


class GarakNormalizer:
    name = "garak"

    def normalize(self, payload: Any) -> Alert:
        """One entry on its own; an entry that is no finding is refused (422)."""
        outcome = self.read(payload, {})
        if isinstance(outcome, NoFinding):
            c.fail("entry_type", f"no finding: {outcome.reason}")
        return outcome

    def read(self, payload: Any, state: StreamState) -> Alert | NoFinding:
        """One entry of a report or hitlog, with what earlier entries of the file said."""
        row = c.as_object(payload, "")
        entry_type = c.opt_str(row, "entry_type", "")
        if entry_type is not None:
            if entry_type == "eval":
                return self._eval(row, state)
            _remember(row, entry_type, state)
            return NoFinding(c.clamp(entry_type, 100), f"garak {entry_type!r} entry")
        if "attempt_id" in row or "output" in row:
            return self._hit(row)
        c.fail("entry_type", "not a garak report entry or hitlog row")

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
        generator: str | None,
        severity: Severity,
        what: str,
        evidence: Evidence,
        probe: str,
        run_id: str | None,
        context: c.Context,
    ) -> Alert:
        target, labels = _target(generator, context)
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
            # One run is one case: its hits and failing evals, whatever the probe.
            dedup_key=c.name(f"garak:{run_id}") if run_id else None,
            **c.occurred(context.occurred_at),
        )

    def _eval(self, row: Mapping[str, Any], state: StreamState) -> Alert | NoFinding:
        probe, detector, run_id, context = self._common(row)
        run_id = run_id or c.name(state.get("run_id"))
        generator = c.opt_str(row, "generator", "") or state.get("generator")
        passed = c.req_int(row, "passed", "")
        total_key = "total_evaluated" if row.get("total_evaluated") is not None else "total"
        total = c.req_int(row, total_key, "")
        if passed < 0 or passed > total:
            c.fail("passed", f"must be between 0 and {total_key}")
        if passed == total:
            return NoFinding("eval", f"every one of {total} outputs passed")
        failed = total - passed
        rate = failed / total
        details: dict[str, c.Scalar] = {
            "detector": c.detail(detector),
            "passed": passed,
            "failed": failed,
            "total": total,
            "nones": c.opt_int(row, "nones", ""),
            "run_id": run_id,
            "garak_version": c.detail(state.get("garak_version")),
        }
        return self._alert(
            generator=generator if isinstance(generator, str) else None,
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
            generator=c.opt_str(row, "generator", ""),
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
