"""Vector stores by application: each application names its retrieval index under
`[vectorstores.<application>]`."""

from __future__ import annotations

from collections.abc import Callable

from integrations.provider_registry import ProviderRegistry
from integrations.vectorstores.base import VectorStore, VectorStoreError
from integrations.vectorstores.chroma import ChromaStore
from integrations.vectorstores.local import LocalVectorStore
from smokejumper.config import Settings
from smokejumper.settings.vectorstores import VectorStoreSettings

PROVIDER_NAMES = frozenset({"chroma", "local"})


def _build(config: VectorStoreSettings) -> Callable[[Settings], VectorStore]:
    def build(settings: Settings) -> VectorStore:
        if config.provider == "local":
            return LocalVectorStore(settings.local_vectorstore_file)
        assert config.url is not None  # the settings require it for chroma
        return ChromaStore(
            config.url,
            tenant=config.tenant,
            database=config.database,
            token=config.token.get_secret_value() if config.token else None,
            timeout_seconds=config.timeout_seconds,
        )

    return build


def not_configured(application: str) -> VectorStoreError:
    return VectorStoreError(
        f"no retrieval index is configured for application {application!r} "
        f"(no [vectorstores.{application}] section)",
        retryable=False,
    )


class VectorStores(ProviderRegistry[VectorStore]):
    """Keyed by application name, not provider name: two applications on `chroma` may be
    two servers with their own clients."""

    kind = "vector-store"
    error = VectorStoreError

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.factories = {app: _build(config) for app, config in settings.vectorstores.items()}

    def get(self, name: str) -> VectorStore:
        if name not in self.factories:
            raise not_configured(name)
        return super().get(name)
