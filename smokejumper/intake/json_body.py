"""JSON as smokejumper takes it from outside (intake, pollers, Slack): standard JSON only,
nested no deeper than MAX_DEPTH, with text a database can keep.

Python's parser accepts `NaN`, `Infinity` and `-Infinity`, and reads a number beyond a
double's range (`1e999`) as infinity: none of them is a JSON number, so a body holding one
could be stored but never served back as JSON. It also recurses once per level of nesting,
so a body nested a thousand levels deep exhausts the stack in the parser, or in whatever
walks the value after it (normalizing, serialising into a JSON column). Both are refused
here, with the field named, before any of that sees the body.
"""

from __future__ import annotations

import json
import math
from typing import Any

from smokejumper.domain.text import UNSTORABLE, UNSTORABLE_MESSAGE

# Real alert formats nest a handful of levels; this leaves room and stays far from the stack.
MAX_DEPTH = 64
# A body with more bad values than this lists this many.
MAX_LISTED = 20


class JsonRefused(ValueError):
    """The body is not JSON intake takes; `errors` name the fields ({field, message, type})."""

    def __init__(self, status: int, reason: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.errors = errors


def _too_deep(subject: str, field: str = "(body)") -> JsonRefused:
    message = f"JSON nested deeper than {MAX_DEPTH} levels"
    error = _error(field, message, "json_too_deep")
    return JsonRefused(400, f"{subject} is nested too deeply", [error])


def loads(body: bytes | str, subject: str = "body") -> Any:
    """The parsed body, or JsonRefused: 400 when it is not JSON or nested too deeply, 422
    (naming each field) when it holds a value no store can keep. `subject` names what was
    parsed in the reason ("body is not valid JSON")."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise _too_deep(subject) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        error = _error("(body)", str(exc), "json_invalid")
        raise JsonRefused(400, f"{subject} is not valid JSON", [error]) from None
    check(value, subject)
    return value


def check(value: Any, subject: str = "body") -> None:
    """Refuse (JsonRefused) what `loads` refuses, in a value parsed elsewhere; walked without
    recursion, since the value may be deep."""
    bad: list[dict[str, Any]] = []
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while pending and len(bad) < MAX_LISTED:
        current, path = pending.pop()
        if isinstance(current, float):
            if not math.isfinite(current):
                bad.append(_error(_field(path), _NOT_A_NUMBER, "finite_number"))
            continue
        if isinstance(current, str):
            if not storable(current):
                bad.append(_error(_field(path), UNSTORABLE_MESSAGE, "string_unstorable"))
            continue
        if isinstance(current, dict):
            children: list[tuple[str | int, Any]] = list(current.items())
            for key in current:
                if not storable(key):
                    bad.append(_error(_field((*path, key)), UNSTORABLE_MESSAGE, "key_unstorable"))
        elif isinstance(current, list):
            children = list(enumerate(current))
        else:
            continue
        if len(path) >= MAX_DEPTH:
            raise _too_deep(subject, _field(path))
        pending.extend((child, (*path, key)) for key, child in reversed(children))
    if bad:
        reason = f"{subject} holds values that cannot be stored"
        raise JsonRefused(422, reason, bad[:MAX_LISTED])


_NOT_A_NUMBER = "NaN, Infinity and numbers beyond ±1.8e308 are not JSON numbers"
# Field names echo the sender's keys: shown and stored, so kept short.
_FIELD_MAX = 200


def storable(text: str) -> bool:
    """Whether a database text or JSON column can hold `text` as it is: PostgreSQL refuses
    NUL, and an unpaired surrogate (a `\\ud800` escape) is no UTF-8 at all."""
    return UNSTORABLE.search(text) is None


def storable_text(text: str) -> str:
    """`text` with what cannot be stored replaced by U+FFFD (for keeping refused input)."""
    return UNSTORABLE.sub("\ufffd", text)


def _field(path: tuple[str | int, ...]) -> str:
    field = storable_text(".".join(str(part) for part in path)) or "(body)"
    return field if len(field) <= _FIELD_MAX else field[: _FIELD_MAX - 1] + "…"


def _error(field: str, message: str, kind: str) -> dict[str, Any]:
    return {"field": field, "message": message, "type": kind}
