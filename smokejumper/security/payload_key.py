"""The embedded mode's payload key: what Temporal stores is encrypted by default.

`smokejumper up` (and the demo) run their own Temporal dev server, whose database file and
UI (which has no sign-in) would otherwise hold every alert title, prompt and key id a
playbook handles. Unless `temporal.encryption_key` is configured, or
`temporal.encrypt_embedded` is false, the first process that needs one generates a key into
`data_dir/payload.key` (mode 0600), as the operator token is generated; every process of
the embedded engine reads it there when it loads its settings.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from pydantic import SecretStr

from smokejumper.config import PAYLOAD_KEY_FILE, Settings
from smokejumper.payload_keys import KEY_BYTES
from smokejumper.private_files import create_once


def payload_key_path(settings: Settings) -> Path:
    return settings.data_dir / PAYLOAD_KEY_FILE


def wants_generated_key(settings: Settings) -> bool:
    temporal = settings.temporal
    return temporal.embedded and temporal.encrypt_embedded and temporal.encryption_key is None


def ensure_payload_key(settings: Settings) -> None:
    """Give an embedded engine without a configured key the generated one, making it first
    if need be; a configured key, a cluster or `encrypt_embedded = false` are left alone."""
    if not wants_generated_key(settings):
        return
    path = payload_key_path(settings)
    value = create_once(path, base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode())
    settings.temporal.encryption_key = SecretStr(value)
