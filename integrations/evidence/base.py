"""The interface every evidence store implements, and its error."""

from __future__ import annotations

import hashlib
import re
from typing import Protocol

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class EvidenceStoreError(Exception):
    """A put or get failed. `retryable` is False when retrying cannot help (a malformed key,
    a URI of another store, content that does not match its hash)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class EvidenceStore(Protocol):
    """Blocking calls: activities run them in a thread.

    `key` is the sha256 hex digest of `data`. Stores are content-addressed by it, so the
    same bytes are stored once however often they are captured, and `put` refuses bytes
    that do not hash to their key rather than file them under the wrong address.
    """

    name: str

    def put(self, key: str, data: bytes) -> str:
        """Store `data` (once) and return its URI."""
        ...

    def get(self, uri: str) -> bytes:
        """The bytes stored at `uri`, as `put` returned it."""
        ...

    def delete(self, uri: str) -> None:
        """Remove the object at `uri` (retention, a purge). Deleting what is gone is fine.
        The caller checks first that no kept evidence row still points at it."""
        ...


def check_key(key: str, data: bytes) -> None:
    if not SHA256_HEX.match(key):
        raise EvidenceStoreError(
            f"evidence key {key!r} is not a sha256 hex digest", retryable=False
        )
    if hashlib.sha256(data).hexdigest() != key:
        raise EvidenceStoreError(f"evidence data does not hash to its key {key}", retryable=False)
