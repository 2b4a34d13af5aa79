"""Helpers shared by the source normalizers: typed field access, clamping, context, severity.

Every accessor takes the dotted path of the value it reads so a `NormalizationError` names the
offending field (`response.breakdown[2].detected`). Messages never echo input values: payloads
carry prompts and secrets, and errors end up in logs and HTTP responses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeGuard

from integrations.sources.base import NormalizationError
from smokejumper.domain.alerts import Principal, Severity, Target

ROOT = "(body)"
TITLE_MAX = 500
NAME_MAX = 200
LABEL_VALUE_MAX = 500
EVIDENCE_TEXT_MAX = 200_000
DETAIL_TEXT_MAX = 10_000
DESCRIPTION_MAX = 10_000
MAX_SPANS = 1000

Scalar = str | int | float | bool | None


def fail(path: str, message: str) -> NoReturn:
    raise NormalizationError.single(path or ROOT, message)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def as_object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        fail(path, "must be a JSON object")
    return value


def obj(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    return as_object(parent.get(key), join(path, key))


def opt_obj(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    value = parent.get(key)
    return None if value is None else as_object(value, join(path, key))


def opt_list(parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
    """A list, with a missing or null value read as empty."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        fail(join(path, key), "must be a JSON array")
    return value


def opt_str(parent: Mapping[str, Any], key: str, path: str) -> str | None:
    value = parent.get(key)
    if value is None or isinstance(value, str):
        return value
    fail(join(path, key), "must be a string")


def req_str(parent: Mapping[str, Any], key: str, path: str) -> str:
    value = opt_str(parent, key, path)
    if value is None or not value.strip():
        fail(join(path, key), "is required and must be a non-empty string")
    return value


def opt_bool(parent: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = parent.get(key)
    if value is None or isinstance(value, bool):
        return value
    fail(join(path, key), "must be true or false")


def req_bool(parent: Mapping[str, Any], key: str, path: str) -> bool:
    value = opt_bool(parent, key, path)
    if value is None:
        fail(join(path, key), "is required and must be true or false")
    return value


def as_number(value: Any, path: str) -> float:
    # bool is an int subclass; `true` is never a score. Huge ints overflow float().
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(path, "must be a number")
    try:
        number = float(value)
    except OverflowError:
        fail(path, "must be a finite number")
    if not math.isfinite(number):
        fail(path, "must be a finite number")
    return number


def opt_number(parent: Mapping[str, Any], key: str, path: str) -> float | None:
    value = parent.get(key)
    return None if value is None else as_number(value, join(path, key))


def as_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        fail(path, "must be an integer")
    return value


def opt_int(parent: Mapping[str, Any], key: str, path: str) -> int | None:
    value = parent.get(key)
    return None if value is None else as_int(value, join(path, key))


def req_int(parent: Mapping[str, Any], key: str, path: str) -> int:
    value = opt_int(parent, key, path)
    if value is None:
        fail(join(path, key), "is required and must be an integer")
    return value


def clamp(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def name(value: str | None) -> str | None:
    """A value for a `Name` field: stripped, at most 200 chars, None when blank."""
    if value is None:
        return None
    stripped = value.strip()
    return clamp(stripped, NAME_MAX).strip() if stripped else None


def req_name(value: str, path: str) -> str:
    """Like `name`, for keys that must exist (score and detail names)."""
    result = name(value)
    if result is None:
        fail(path, "must be a non-empty name")
    return result


def title(text: str) -> str:
    return clamp(" ".join(text.split()), TITLE_MAX)


def description(text: str) -> str:
    return clamp(text, DESCRIPTION_MAX)


def label(value: str) -> str:
    return clamp(value, LABEL_VALUE_MAX)


def evidence_text(value: str | None) -> str | None:
    return None if value is None else clamp(value, EVIDENCE_TEXT_MAX)


def is_scalar(value: Any) -> TypeGuard[Scalar]:
    """A value `Evidence.details` can hold; NaN and infinities are not (they break equality)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def detail(value: Scalar) -> Scalar:
    return clamp(value, DETAIL_TEXT_MAX) if isinstance(value, str) else value


def unique(values: Iterable[str]) -> list[str]:
    """De-duplicated, in first-seen order, so output order is a function of input order."""
    return list(dict.fromkeys(values))


def severity_from_score(score: float, *, high: float = 0.9, medium: float = 0.7) -> Severity:
    if score >= high:
        return Severity.HIGH
    if score >= medium:
        return Severity.MEDIUM
    return Severity.LOW


def max_severity(*severities: Severity) -> Severity:
    return max(severities, key=lambda s: s.rank)


def cap_severity(severity: Severity, cap: Severity) -> Severity:
    return severity if severity.rank <= cap.rank else cap


def parse_time(value: Any, path: str, *, naive_is_utc: bool = True) -> datetime:
    """ISO 8601 text or a Unix epoch number; naive times are taken as UTC unless refused.

    Tools such as PyRIT write `datetime.now().isoformat()` without an offset; UTC is the only
    reading that does not depend on the machine that normalizes the payload.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            fail(path, "must be an ISO 8601 timestamp")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            parsed = datetime.fromtimestamp(as_number(value, path), UTC)
        except (OverflowError, OSError, ValueError):
            fail(path, "is not a representable Unix timestamp")
    else:
        fail(path, "must be an ISO 8601 timestamp or a Unix epoch number")
    if parsed.tzinfo is not None:
        return parsed
    if not naive_is_utc:
        fail(path, "must include a UTC offset, e.g. 2025-05-01T03:00:00Z")
    return parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Context:
    """Who and what an event is about, as sent by the integration alongside the tool output."""

    principal: Principal = field(default_factory=Principal)
    target: Target = field(default_factory=Target)
    occurred_at: datetime | None = None


# Canonical key -> accepted spellings. The aliases are the names gateways and guard APIs
# (Lakera metadata, LiteLLM, Kong) already use, so integrations can forward them unchanged.
_PRINCIPAL_KEYS: dict[str, tuple[str, ...]] = {
    "user": ("user", "user_id"),
    "api_key_id": ("api_key_id",),
    "tenant": ("tenant", "tenant_id"),
    "session_id": ("session_id",),
    "ip": ("ip", "ip_address"),
}
_TARGET_KEYS: dict[str, tuple[str, ...]] = {
    "application": ("application",),
    "endpoint": ("endpoint",),
    "model": ("model",),
    "model_version": ("model_version",),
}


def _context_value(mapping: Mapping[str, Any], keys: tuple[str, ...], path: str) -> str | None:
    for key in keys:
        value = mapping.get(key)
        if value is None:
            continue
        # Numeric user and tenant ids are common; accept them as their decimal text.
        if isinstance(value, int) and not isinstance(value, bool):
            return name(str(value))
        if not isinstance(value, str):
            fail(join(path, key), "must be a string")
        return name(value)
    return None


def read_context(mapping: Mapping[str, Any] | None, path: str) -> Context:
    """Principal, target and `occurred_at` from a mapping using the keys above."""
    if mapping is None:
        return Context()
    principal = Principal(
        **{k: _context_value(mapping, keys, path) for k, keys in _PRINCIPAL_KEYS.items()}
    )
    target = Target(**{k: _context_value(mapping, keys, path) for k, keys in _TARGET_KEYS.items()})
    raw_time = mapping.get("occurred_at")
    occurred_at = None if raw_time is None else parse_time(raw_time, join(path, "occurred_at"))
    return Context(principal=principal, target=target, occurred_at=occurred_at)


def occurred(at: datetime | None) -> dict[str, datetime]:
    """`occurred_at` as keyword arguments, empty so the Alert default applies when unknown."""
    return {} if at is None else {"occurred_at": at}


def on_target(target: Target) -> str:
    """A title suffix naming the target, e.g. " on support-bot"."""
    where = target.application or target.endpoint or target.model
    return f" on {where}" if where else ""
