"""Endpoint providers by the name playbooks use (`EndpointAction.provider`)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from integrations.endpoints.base import EndpointProvider, EndpointProviderError
from integrations.endpoints.kubernetes import KubernetesEndpoints
from integrations.endpoints.litellm_models import LiteLLMModels
from integrations.endpoints.local import LocalEndpoints
from integrations.endpoints.sagemaker import SageMakerEndpoints
from integrations.provider_registry import ProviderRegistry
from integrations.required import required
from smokejumper.config import Settings


def _configured(value: str | SecretStr | None, key: str) -> str:
    return required(value, key, "litellm", EndpointProviderError)


def _litellm(settings: Settings) -> EndpointProvider:
    litellm = settings.containment.litellm
    return LiteLLMModels(
        _configured(litellm.base_url, "containment.litellm.base_url"),
        _configured(litellm.api_key, "containment.litellm.api_key"),
        litellm.timeout_seconds,
        litellm.model_api_key_env,
    )


def _sagemaker(settings: Settings) -> EndpointProvider:
    sagemaker = settings.containment.sagemaker
    return SageMakerEndpoints(
        sagemaker.endpoint_url, sagemaker.maintenance_config, sagemaker.maintenance_configs
    )


def _kubernetes(settings: Settings) -> EndpointProvider:
    try:
        return KubernetesEndpoints.from_settings(settings.containment.kubernetes)
    except Exception as exc:
        # No kubeconfig, no service account: a setup problem a retry cannot fix.
        raise EndpointProviderError(
            f"kubernetes: cannot load the API client configuration ({type(exc).__name__})",
            retryable=False,
        ) from None


_FACTORIES: dict[str, Callable[[Settings], EndpointProvider]] = {
    "local": lambda settings: LocalEndpoints(settings.local_endpoints_file),
    "kubernetes": _kubernetes,
    "sagemaker": _sagemaker,
    "litellm": _litellm,
}

PROVIDER_NAMES = frozenset(_FACTORIES)


class EndpointProviders(ProviderRegistry[EndpointProvider]):
    """Builds each provider once, when first asked for: its clients are then reused."""

    kind = "endpoint"
    factories = _FACTORIES
    error = EndpointProviderError
