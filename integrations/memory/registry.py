"""Memory providers by application: each application names its own store and key
patterns under `[memory.<application>]`."""

from __future__ import annotations

from collections.abc import Callable

from integrations.memory.base import MemoryProvider, MemoryProviderError
from integrations.memory.local import LocalMemory
from integrations.memory.redis_memory import RedisMemory
from integrations.provider_registry import ProviderRegistry
from smokejumper.config import Settings
from smokejumper.settings.memory import MemorySettings

PROVIDER_NAMES = frozenset({"redis", "local"})


def _build(application: str, config: MemorySettings) -> Callable[[Settings], MemoryProvider]:
    def build(settings: Settings) -> MemoryProvider:
        if config.provider == "local":
            return LocalMemory(settings.local_memory_file)
        assert config.url is not None  # the settings require it for redis
        return RedisMemory(
            application,
            config.url,
            username=config.username,
            password=config.password.get_secret_value() if config.password else None,
            timeout_seconds=config.timeout_seconds,
        )

    return build


def not_configured(application: str) -> MemoryProviderError:
    return MemoryProviderError(
        f"no conversation memory is configured for application {application!r} "
        f"(no [memory.{application}] section)",
        retryable=False,
    )


class MemoryProviders(ProviderRegistry[MemoryProvider]):
    """Keyed by application name, not provider name: two applications on the `redis`
    provider are two servers (or databases) with their own clients."""

    kind = "memory"
    error = MemoryProviderError

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.factories = {app: _build(app, config) for app, config in settings.memory.items()}

    def get(self, name: str) -> MemoryProvider:
        if name not in self.factories:
            raise not_configured(name)
        return super().get(name)
