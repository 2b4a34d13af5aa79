"""Providers by name, built on first use from the settings and then reused (their clients
keep connections). Generic over the provider interface, so each capability only lists its
factories."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from smokejumper.config import Settings

P = TypeVar("P")


class ProviderRegistry(Generic[P]):
    def __init__(
        self,
        settings: Settings,
        factories: Mapping[str, Callable[[Settings], P]],
        unknown: Callable[[str], Exception],
    ) -> None:
        self.settings = settings
        self._factories = factories
        self._unknown = unknown
        self._built: dict[str, P] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> P:
        with self._lock:
            if name not in self._built:
                factory = self._factories.get(name)
                if factory is None:
                    raise self._unknown(name)
                self._built[name] = factory(self.settings)
            return self._built[name]

    def register(self, name: str, provider: P) -> None:
        """Use `provider` for `name` (a provider of your own, or one set up differently)."""
        with self._lock:
            self._built[name] = provider
