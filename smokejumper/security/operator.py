"""The operator token: the credential the CLI and automation use against the API.

Configured as `api.operator_token`, or generated once into `data_dir/operator.token`
(mode 0600) by the first process that needs it; the CLI on the same machine reads it there.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from smokejumper.config import Settings
from smokejumper.private_files import create_once

TOKEN_FILE = "operator.token"  # noqa: S105 - a file name, not a secret


class OperatorTokenMissing(RuntimeError):
    pass


def token_path(settings: Settings) -> Path:
    return settings.data_dir / TOKEN_FILE


def operator_token(settings: Settings, *, create: bool = False) -> str:
    if settings.api.operator_token is not None:
        return settings.api.operator_token.get_secret_value()
    path = token_path(settings)
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    if not create:
        raise OperatorTokenMissing(
            f"no operator token: set SMOKEJUMPER_API__OPERATOR_TOKEN, or run where "
            f"`smokejumper up` keeps {path}"
        )
    return create_once(path, "sjop_" + secrets.token_urlsafe(32))
