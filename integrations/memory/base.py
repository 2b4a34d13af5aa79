"""The interface every memory provider implements, and its errors.

Counting and purging never read what an entry holds (the leaked data may be in it): the
state counts the keys a conversation's patterns match and records their names hashed,
since key names carry session and user ids. Only `snapshot` reads values, to keep them as
evidence before an irreversible purge; it goes to the evidence store, never to a log.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
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


class MemoryEntry(BaseModel):
    """One entry as the store holds it, for the snapshot kept before a purge. Bytes that
    are not UTF-8 are kept as `base64:` text, so nothing is lost to decoding."""

    key: str
    type: str
    value: Any
    ttl_seconds: int | None = None


@dataclass
class MemorySnapshot:
    """What a conversation's entries held just before a purge. `names` are the keys as
    the store spells them, so the purge deletes exactly what was kept."""

    application: str
    provider: str
    entries: list[MemoryEntry]
    names: set[bytes] | set[str] = field(default_factory=set)

    def content(self) -> str:
        """The snapshot as evidence: canonical JSON, so the same entries hash the same."""
        return json.dumps(
            {
                "application": self.application,
                "provider": self.provider,
                "entries": [e.model_dump() for e in sorted(self.entries, key=lambda e: e.key)],
            },
            indent=2,
            sort_keys=True,
            ensure_ascii=False,
        )


def text_of(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode("ascii")


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

    def snapshot(self, scope: MemoryScope) -> MemorySnapshot:
        """Read every entry the scope's patterns match, values included: what a purge
        would destroy, kept as evidence before it does."""
        ...

    def purge(self, scope: MemoryScope, only: Collection[bytes | str] | None = None) -> MemoryState:
        """Delete every key the scope's patterns match (`only`: just these of them, the
        ones a snapshot kept); returns what was deleted (`keys`, `key_digests`). Purging
        what is already gone deletes nothing."""
        ...

    def verify_purged(self, scope: MemoryScope) -> bool:
        """Look again: no key matches the scope's patterns."""
        ...
