"""Providers by name, built on first use from the settings and then reused (their clients
keep connections). Generic over the provider interface, so each capability only lists its
factories:

    class KeyProviders(ProviderRegistry[KeyProvider]):
        kind = "key"
        factories = _FACTORIES
        error = KeyProviderError
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Generic, Protocol, TypeVar

from smokejumper.config import Settings

P = TypeVar("P")


class ProviderError(Protocol):
    """A capability's own error (`KeyProviderError`, …): a message and whether to retry."""

    def __call__(self, message: str, *, retryable: bool = True) -> Exception: ...


class ProviderRegistry(Generic[P]):
    # Set by each capability's registry.
    kind: str  # names the capability in errors: "key", "endpoint", …
    factories: Mapping[str, Callable[[Settings], P]]
    error: ProviderError

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[str, P] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> P:
        with self._lock:
            if name not in self._built:
                factory = self.factories.get(name)
                if factory is None:
                    known = ", ".join(sorted(self.factories))
                    raise self.error(
                        f"unknown {self.kind} provider {name!r}; known: {known}", retryable=False
                    )
                self._built[name] = factory(self.settings)
            return self._built[name]

    def register(self, name: str, provider: P) -> None:
        """Use `provider` for `name` (a provider of your own, or one set up differently)."""
        with self._lock:
            self._built[name] = provider
