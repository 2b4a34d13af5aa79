"""Settings a provider cannot work without: their absence fails the step at once."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr


def required(
    value: str | SecretStr | None, key: str, provider: str, error: Callable[..., Exception]
) -> str:
    """`value` as a plain string, or `error(..., retryable=False)` naming the missing key."""
    if value is None:
        raise error(f"{provider}: {key} is not set", retryable=False)
    return value.get_secret_value() if isinstance(value, SecretStr) else value
