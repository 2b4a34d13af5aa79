"""The operator token: the credential the CLI and automation use against the API.

Configured as `api.operator_token`, or generated once into `data_dir/operator.token`
(mode 0600) by the first process that needs it; the CLI on the same machine reads it there.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from smokejumper.config import Settings

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
    path.parent.mkdir(parents=True, exist_ok=True)
    token = "sjop_" + secrets.token_urlsafe(32)
    # O_EXCL: when several processes start at once exactly one writes the file.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return operator_token(settings, create=False)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token
