"""The audit log's HMAC key, kept outside the database.

Whoever can write the database can rewrite rows and recompute an unkeyed chain; with the
key elsewhere they cannot forge a row that verifies. `audit.key_file` names the file; unset,
the first process that needs one generates it into `data_dir/audit.key` (mode 0600), as the
operator token and the payload key are generated. Every process of one deployment (API,
worker, scheduler, CLI) must read the same key: on several machines, configure the file.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from pathlib import Path

from smokejumper.config import Settings
from smokejumper.private_files import create_once

KEY_BYTES = 32


class AuditKeyError(RuntimeError):
    pass


def _decode(value: str, path: Path) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise AuditKeyError(f"the audit key in {path} is not base64") from None
    if len(key) < KEY_BYTES:
        raise AuditKeyError(f"the audit key in {path} is shorter than {KEY_BYTES} bytes")
    return key


def audit_key(settings: Settings, *, create: bool = True) -> bytes:
    """The key; generated at the default place when `create` and there is none yet. A
    configured `audit.key_file` that does not exist is an error, never silently replaced."""
    path = settings.audit_key_file
    if path.is_file():
        return _decode(path.read_text(encoding="utf-8").strip(), path)
    if settings.audit.key_file is not None or not create:
        raise AuditKeyError(
            f"no audit key at {path}: set audit.key_file (SMOKEJUMPER_AUDIT__KEY_FILE) to "
            "the deployment's key file"
        )
    value = create_once(path, base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode())
    return _decode(value, path)
