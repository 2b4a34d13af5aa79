"""The normalizer interface every source format implements."""

from __future__ import annotations

from typing import Any, Protocol

from smokejumper.domain.alerts import Alert


class NormalizationError(ValueError):
    """The payload is not what this source sends; `errors` name the offending fields."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))

    @classmethod
    def single(cls, field: str, message: str) -> NormalizationError:
        return cls([{"field": field, "message": message, "type": "source_format"}])


class Normalizer(Protocol):
    """Turns one native event (a parsed JSON object) into one generic alert."""

    #: The `{source}` path segment of `POST /api/v1/alerts/{source}`.
    name: str

    def normalize(self, payload: Any) -> Alert: ...
