"""Key providers by the name playbooks use (`KeyAction.provider`)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from integrations.keys.aws_iam import AwsIamKeys
from integrations.keys.base import KeyProvider, KeyProviderError
from integrations.keys.local import LocalKeys
from smokejumper.config import Settings

_FACTORIES: dict[str, Callable[[Settings], KeyProvider]] = {
    "aws_iam": lambda settings: AwsIamKeys(settings.containment.aws_endpoint_url),
    "local": lambda settings: LocalKeys(settings.local_keys_file),
}

PROVIDER_NAMES = frozenset(_FACTORIES)


class KeyProviders:
    """Builds each provider once, when first asked for: its clients are then reused."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[str, KeyProvider] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> KeyProvider:
        with self._lock:
            if name not in self._built:
                factory = _FACTORIES.get(name)
                if factory is None:
                    raise KeyProviderError(
                        f"unknown key provider {name!r}; known: {', '.join(sorted(_FACTORIES))}",
                        retryable=False,
                    )
                self._built[name] = factory(self.settings)
            return self._built[name]

    def register(self, name: str, provider: KeyProvider) -> None:
        """Use `provider` for `name` (a provider of your own, or one set up differently)."""
        with self._lock:
            self._built[name] = provider
