"""`make bench`: run every benchmark against the embedded dev server; write results.json."""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    alert_to_containment,
    controls_check,
    flood_priority,
    intake_storm,
    parked_approvals,
    table,
)
from bench.harness import Result, dev_server, machine, measured_commit

RESULTS = Path(__file__).parent / "results.json"
BENCHMARKS = {
    "alert_to_containment": alert_to_containment.run,
    "intake_storm": intake_storm.run,
    "parked_approvals": parked_approvals.run,
    "controls_check": controls_check.run,
    "flood_priority": flood_priority.run,
}


def _record(benchmark: str, produced: list[Result]) -> None:
    """Put `produced` into results.json in place of that benchmark's previous entries,
    keeping the other benchmarks' entries (each says when it ran)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    kept: list[dict[str, Any]] = []
    if RESULTS.is_file():
        previous = json.loads(RESULTS.read_text(encoding="utf-8"))
        for entry in previous.get("results", []):
            if entry["name"] != benchmark and not entry["name"].startswith(f"{benchmark}_"):
                # Rows from before each carried its machine were measured on the file's.
                kept.append(
                    {"ran_at": previous.get("ran_at"), "machine": previous.get("machine"), **entry}
                )
    commit = measured_commit()
    here = machine()
    fresh = [
        {"ran_at": now, "commit": commit, "machine": here, **result.as_dict()}
        for result in produced
    ]
    order = list(BENCHMARKS)

    def position(entry: dict[str, Any]) -> int:
        found = [i for i, name in enumerate(order) if entry["name"].startswith(name)]
        return found[-1] if found else len(order)

    report = {
        "ran_at": now,
        "commit": commit,
        "machine": here,
        "results": sorted([*kept, *fresh], key=position),
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def main(names: list[str]) -> int:
    chosen = names or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="smokejumper-bench-") as tmp:
        workdir = Path(tmp)
        with dev_server(workdir / "temporal") as temporal:
            for name in chosen:
                print(f"running {name} …", flush=True)
                produced = BENCHMARKS[name](temporal, workdir / name)
                results.extend(produced)
                # Written after each benchmark: a later one failing keeps the figures so far.
                _record(name, produced)
    print(f"\n{'name':<16} {'value':>10} {'unit':<10} {'floor':>10} {'ratio':>7}  ok  target")
    for r in results:
        print(
            f"{r.name:<16} {r.value:>10} {r.unit:<10} {r.floor!s:>10} {r.ratio!s:>7}  "
            f"{'yes' if r.ok else 'NO ':<3} {r.target}"
        )
        print(f"{'':<16} {r.detail}")
    # The README's and the operations guide's tables say what results.json says.
    table.main([])
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
