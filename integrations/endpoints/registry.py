"""Endpoint providers by the name playbooks use (`EndpointAction.provider`)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from integrations.endpoints.base import EndpointProvider, EndpointProviderError
from integrations.endpoints.local import LocalEndpoints
from smokejumper.config import Settings

_FACTORIES: dict[str, Callable[[Settings], EndpointProvider]] = {
    "local": lambda settings: LocalEndpoints(settings.local_endpoints_file),
}

PROVIDER_NAMES = frozenset(_FACTORIES)


class EndpointProviders:
    """Builds each provider once, when first asked for: its clients are then reused."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[str, EndpointProvider] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> EndpointProvider:
        with self._lock:
            if name not in self._built:
                factory = _FACTORIES.get(name)
                if factory is None:
                    raise EndpointProviderError(
                        f"unknown endpoint provider {name!r}; known: "
                        f"{', '.join(sorted(_FACTORIES))}",
                        retryable=False,
                    )
                self._built[name] = factory(self.settings)
            return self._built[name]

    def register(self, name: str, provider: EndpointProvider) -> None:
        """Use `provider` for `name` (a provider of your own, or one set up differently)."""
        with self._lock:
            self._built[name] = provider
