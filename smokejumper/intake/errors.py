"""Turn validation failures into field-level errors a sender can act on."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """`[{field: "target.model", message: ...}]`; input values are left out (may be secret)."""
    return [
        {
            "field": ".".join(str(part) for part in error["loc"]) or "(body)",
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors(include_input=False, include_url=False)
    ]
