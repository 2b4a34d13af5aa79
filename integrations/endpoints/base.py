"""The interface every endpoint provider implements, and its errors."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field

SERVING = "serving"
ISOLATED = "isolated"


class EndpointState(BaseModel):
    """An endpoint's state as the provider reports it: `serving` or `isolated`."""

    endpoint: str
    provider: str
    status: str
    details: dict[str, Any] = Field(default_factory=dict)


class EndpointProviderError(Exception):
    """A provider call failed. `retryable` is False when retrying cannot help (the endpoint
    does not exist, access is denied)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class EndpointNotFound(EndpointProviderError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class EndpointProvider(Protocol):
    """Blocking calls: activities run them in a thread."""

    name: str
    restorable: bool

    def state(self, endpoint: str) -> EndpointState:
        """The endpoint's current state, without changing it."""
        ...

    def isolate(self, endpoint: str, *, by: str, reason: str | None = None) -> EndpointState:
        """Stop the endpoint serving; returns its state afterwards. Isolating an isolated
        endpoint is a no-op."""
        ...

    def verify_isolated(self, endpoint: str) -> bool:
        """Ask the provider again, independently of `isolate`'s answer."""
        ...

    def restore(self, endpoint: str, before: EndpointState) -> EndpointState:
        """Put the endpoint back as `before` recorded it; returns its state afterwards."""
        ...
