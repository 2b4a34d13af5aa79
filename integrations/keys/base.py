"""The interface every key provider implements, and its errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, Field


class KeyState(BaseModel):
    """A key's state as the provider reports it. Never holds the key's secret."""

    key_id: str
    provider: str
    status: str
    details: dict[str, Any] = Field(default_factory=dict)


class KeyProviderError(Exception):
    """A provider call failed. `retryable` is False when retrying cannot help (the key does
    not exist, access is denied); the message never quotes a secret."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class KeyNotFound(KeyProviderError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class KeyAccessDenied(KeyProviderError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def gone(lookup: Callable[[], object]) -> bool:
    """Verification for providers whose revoke deletes the key: the provider no longer
    knows it."""
    try:
        lookup()
    except KeyNotFound:
        return True
    return False


class KeyProvider(Protocol):
    """Blocking calls: activities run them in a thread."""

    name: str
    restorable: bool

    def state(self, key_id: str) -> KeyState:
        """The key's current state, without changing it."""
        ...

    def revoke(self, key_id: str) -> KeyState:
        """Disable the key; returns its state afterwards. Revoking a revoked key is a no-op."""
        ...

    def verify_revoked(self, key_id: str) -> bool:
        """Ask the provider again, independently of `revoke`'s answer."""
        ...

    def restore(self, key_id: str, before: KeyState) -> KeyState:
        """Put the key back as `before` recorded it; returns its state afterwards."""
        ...
