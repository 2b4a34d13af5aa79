"""`[containment.*]` for key providers: OpenAI admin keys, the LiteLLM proxy, Vault."""

from __future__ import annotations

from pydantic import (
    Field,
)

from smokejumper.settings.sections import Secret, Section


class OpenAIAdminSettings(Section):
    """The `openai` key provider: project API keys through the OpenAI Admin API."""

    base_url: str = Field(
        default="https://api.openai.com/v1",
        pattern=r"^https?://",
        description="Base URL of the Admin API (up to and including /v1).",
    )
    api_key: Secret | None = Field(
        default=None,
        description="An OpenAI Admin API key of the organization (not a project key); a "
        "file:/env: reference.",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")


class LiteLLMSettings(Section):
    """The `litellm` key and endpoint providers: a LiteLLM proxy's management API."""

    base_url: str | None = Field(
        default=None, pattern=r"^https?://", description="Base URL of the LiteLLM proxy."
    )
    api_key: Secret | None = Field(
        default=None,
        description="The proxy's master key or a proxy-admin virtual key; a file:/env: reference.",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")
    model_api_key_env: dict[str, str] = Field(
        default_factory=dict,
        description="Per model name, the proxy's environment variable holding the model's "
        "upstream API key: the proxy never returns a deployment's key, so a restored "
        "deployment gets `api_key: os.environ/<VAR>` (resolved by the proxy).",
    )


class VaultSettings(Section):
    """The `vault_token` and `vault_lease` key providers."""

    address: str | None = Field(
        default=None, pattern=r"^https?://", description="Vault address, e.g. https://vault:8200."
    )
    token: Secret | None = Field(
        default=None, description="Vault token of the worker; a file:/env: reference."
    )
    namespace: str | None = Field(
        default=None, description="Vault Enterprise namespace (X-Vault-Namespace)."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")
