"""The interface every memory provider implements, and its errors.

A provider never reads or returns what an entry holds (the leaked data may be in it): it
counts the keys a conversation's patterns match and records their names hashed, since key
names carry session and user ids.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from pydantic import BaseModel, Field

PRESENT = "present"
EMPTY = "empty"
PURGED = "purged"
# Beyond this many keys the state records the count only.
MAX_DIGESTS = 200


class MemoryScope(BaseModel):
    """One conversation's entries in one application's store: the resolved globs."""

    application: str
    patterns: list[str] = Field(min_length=1)


class MemoryState(BaseModel):
    """How many keys of the conversation the store holds, their names hashed."""

    application: str
    provider: str
    status: str
    keys: int
    key_digests: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


def key_digest(name: bytes | str) -> str:
    raw = name.encode("utf-8") if isinstance(name, str) else name
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:16]


def memory_state(
    scope: MemoryScope,
    provider: str,
    names: set[bytes] | set[str],
    *,
    purged: bool = False,
    **details: Any,
) -> MemoryState:
    """The state of `names`: the keys found, or (`purged`) the keys just deleted."""
    digests = sorted(key_digest(n) for n in names)
    return MemoryState(
        application=scope.application,
        provider=provider,
        status=PURGED if purged else PRESENT if names else EMPTY,
        keys=len(names),
        key_digests=digests[:MAX_DIGESTS],
        details=details,
    )


class MemoryProviderError(Exception):
    """A store call failed. `retryable` is False when retrying cannot help (no such
    application, access denied); the message never quotes a password or an entry."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class MemoryProvider(Protocol):
    """Blocking calls: activities run them in a thread."""

    name: str
    restorable: bool

    def state(self, scope: MemoryScope) -> MemoryState:
        """The conversation's keys now, without changing them."""
        ...

    def purge(self, scope: MemoryScope) -> MemoryState:
        """Delete every key the scope's patterns match; returns what was deleted (`keys`,
        `key_digests`). Purging what is already gone deletes nothing."""
        ...

    def verify_purged(self, scope: MemoryScope) -> bool:
        """Look again: no key matches the scope's patterns."""
        ...
