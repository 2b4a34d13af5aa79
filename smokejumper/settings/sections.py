"""What every section of the configuration shares: strictness, secrets given by reference, ports."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
)


def _resolve_secret_reference(value: Any) -> Any:
    """Turn `file:/path` and `env:NAME` into the secret they point at."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        return value
    if value.startswith("file:"):
        path = Path(value[len("file:") :]).expanduser()
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    if value.startswith("env:"):
        name = value[len("env:") :]
        if name not in os.environ:
            raise ValueError(f"environment variable {name} named by the reference is not set")
        return os.environ[name]
    return value


def _non_empty_secret(value: SecretStr) -> SecretStr:
    if not value.get_secret_value():
        raise ValueError("secret is empty")
    return value


Secret = Annotated[
    SecretStr, BeforeValidator(_resolve_secret_reference), AfterValidator(_non_empty_secret)
]


Port = Annotated[int, Field(ge=1, le=65535)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
