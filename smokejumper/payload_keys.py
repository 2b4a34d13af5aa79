"""The payload encryption key's format, shared by the configuration (which checks keys)
and the Temporal codec (which uses them)."""

from __future__ import annotations

import base64
import binascii

KEY_BYTES = 32


class CodecKeyError(ValueError):
    """A configured key is malformed, or a payload needs a key that is not configured."""


def decode_key(text: str) -> bytes:
    """A key as configured: base64 (standard or URL-safe) of 32 random bytes."""
    value = text.strip()
    padded = value + "=" * (-len(value) % 4)
    for altchars in (None, b"-_"):
        try:
            raw = base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == KEY_BYTES:
            return raw
    raise CodecKeyError(
        f"an encryption key must be base64 of {KEY_BYTES} random bytes "
        "(e.g. `openssl rand -base64 32`)"
    )
