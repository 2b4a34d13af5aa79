"""The example alerts the demo fires: every file of `examples/alerts/`, generic or in a
tool's own format (under `native/`, named after the format)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from integrations.sources.registry import NORMALIZERS
from smokejumper.domain.alerts import Alert

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class DemoError(RuntimeError):
    """The demo cannot run; the message says why and what to do."""


@dataclass(frozen=True)
class ExampleAlert:
    path: Path
    source: str | None  # None: the generic format; else the normalizer the file is written for

    @property
    def name(self) -> str:
        return str(self.path.relative_to(EXAMPLES.parent))

    @property
    def api_path(self) -> str:
        return "/api/v1/alerts" + (f"/{self.source}" if self.source else "")

    def parse(self) -> Alert:
        """The alert as intake will read it (to seed what it names)."""
        payload = json.loads(self.path.read_text(encoding="utf-8"))
        if self.source is None:
            return Alert.model_validate(payload)
        return NORMALIZERS[self.source].normalize(payload)


def _native_source(path: Path) -> str:
    # `llm_guard_output_secret.json` is in the `llm-guard` format: the longest normalizer
    # name that starts the file name wins.
    stem = path.stem.replace("_", "-")
    matches = [name for name in NORMALIZERS if stem.startswith(name + "-") or stem == name]
    if not matches:
        raise DemoError(
            f"{path}: no alert source format is named by the start of its file name "
            f"(known: {', '.join(sorted(NORMALIZERS))})"
        )
    return max(matches, key=len)


def example_alerts(root: Path = EXAMPLES) -> list[ExampleAlert]:
    alerts = root / "alerts"
    if not alerts.is_dir():
        raise DemoError(
            f"the example alerts are not here ({alerts}); the demo runs from a source checkout"
        )
    found = [ExampleAlert(path, None) for path in sorted(alerts.glob("*.json"))]
    found += [
        ExampleAlert(path, _native_source(path)) for path in sorted(alerts.glob("native/*.json"))
    ]
    return found
