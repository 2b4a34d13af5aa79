"""Key providers by the name playbooks use (`KeyAction.provider`)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from integrations.keys.aws_iam import AwsIamKeys
from integrations.keys.base import KeyProvider, KeyProviderError
from integrations.keys.litellm import LiteLLMKeys
from integrations.keys.local import LocalKeys
from integrations.keys.openai_admin import OpenAIProjectKeys
from integrations.keys.vault_lease import VaultLeases
from integrations.keys.vault_token import VaultTokens
from integrations.provider_registry import ProviderRegistry
from integrations.required import required
from smokejumper.config import Settings


def configured(value: str | SecretStr | None, key: str, provider: str) -> str:
    return required(value, key, provider, KeyProviderError)


def _openai(settings: Settings) -> KeyProvider:
    openai = settings.containment.openai
    admin_key = configured(openai.api_key, "containment.openai.api_key", "openai")
    return OpenAIProjectKeys(openai.base_url, admin_key, openai.timeout_seconds)


def _litellm(settings: Settings) -> KeyProvider:
    litellm = settings.containment.litellm
    base_url = configured(litellm.base_url, "containment.litellm.base_url", "litellm")
    admin_key = configured(litellm.api_key, "containment.litellm.api_key", "litellm")
    return LiteLLMKeys(base_url, admin_key, litellm.timeout_seconds)


def _vault(settings: Settings, provider: type[VaultTokens] | type[VaultLeases]) -> KeyProvider:
    vault = settings.containment.vault
    address = configured(vault.address, "containment.vault.address", provider.name)
    token = configured(vault.token, "containment.vault.token", provider.name)
    return provider(address, token, vault.namespace, vault.timeout_seconds)


_FACTORIES: dict[str, Callable[[Settings], KeyProvider]] = {
    "aws_iam": lambda settings: AwsIamKeys(settings.containment.aws_endpoint_url),
    "local": lambda settings: LocalKeys(settings.local_keys_file),
    "openai": _openai,
    "litellm": _litellm,
    "vault_token": lambda settings: _vault(settings, VaultTokens),
    "vault_lease": lambda settings: _vault(settings, VaultLeases),
}

PROVIDER_NAMES = frozenset(_FACTORIES)


class KeyProviders(ProviderRegistry[KeyProvider]):
    """Builds each provider once, when first asked for: its clients are then reused."""

    kind = "key"
    factories = _FACTORIES
    error = KeyProviderError
