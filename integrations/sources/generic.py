"""The generic smokejumper alert format: the payload is an `Alert` as JSON already.

This is the format of `POST /api/v1/alerts`; registering it as a source lets a tool that speaks
it natively post to `/api/v1/alerts/{source}` like any other source. Validation is the model's
own, so errors are pydantic `ValidationError`s with field locations.
"""

from __future__ import annotations

from typing import Any

from smokejumper.domain.alerts import Alert


class GenericNormalizer:
    name = "generic"

    def normalize(self, payload: Any) -> Alert:
        return Alert.model_validate(payload)
