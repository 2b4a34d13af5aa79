"""An action's before and after as a field-by-field diff, for people rather than parsers.

Nested objects are walked into dotted field names (`details.reason`); lists and scalars
are compared whole. Every value is masked before it is shown, as the rest of the console.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from smokejumper.masking import mask_data
from smokejumper.redaction import DEFAULT, Redactor

ChangeKind = Literal["added", "removed", "changed", "unchanged"]


@dataclass(frozen=True)
class FieldChange:
    field: str
    kind: ChangeKind
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ActionDiff:
    changes: list[FieldChange]
    unchanged: list[FieldChange]

    @property
    def empty(self) -> bool:
        return not self.changes and not self.unchanged


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        found: dict[str, Any] = {}
        for key, item in value.items():
            found.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return found
    return {prefix or "(value)": value}


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def field_diff(
    before: dict[str, Any] | None, after: dict[str, Any] | None, redactor: Redactor = DEFAULT
) -> ActionDiff:
    """What an action changed, field by field; masked, in the order fields first appear."""
    old = _flatten(mask_data(before or {}, redactor)) if before else {}
    new = _flatten(mask_data(after or {}, redactor)) if after else {}
    changes: list[FieldChange] = []
    unchanged: list[FieldChange] = []
    for name in [*old, *(k for k in new if k not in old)]:
        if name not in new:
            changes.append(FieldChange(name, "removed", _shown(old[name]), None))
        elif name not in old:
            changes.append(FieldChange(name, "added", None, _shown(new[name])))
        elif old[name] != new[name]:
            changes.append(FieldChange(name, "changed", _shown(old[name]), _shown(new[name])))
        else:
            unchanged.append(FieldChange(name, "unchanged", _shown(old[name]), _shown(new[name])))
    return ActionDiff(changes, unchanged)
