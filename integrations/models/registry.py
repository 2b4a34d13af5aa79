"""Model providers by the name playbooks use (`ModelAction.provider`)."""

from __future__ import annotations

import os
from collections.abc import Callable

from integrations.digest import ArtifactCheck
from integrations.models.base import ModelProvider, ModelProviderError
from integrations.models.local import LocalModels
from integrations.models.mlflow import MlflowModels
from integrations.models.mlflow_client import MlflowAuth, MlflowClient, registry_artifact_check
from integrations.provider_registry import ProviderRegistry
from smokejumper.config import Settings


def mlflow_client(settings: Settings) -> MlflowClient:
    """The configured MLflow client; MLflow's own MLFLOW_TRACKING_* variables fill what
    `containment.mlflow` leaves unset. Raises ModelProviderError when no server is named."""
    config = settings.containment.mlflow
    uri = config.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri or not uri.startswith(("http://", "https://")):
        raise ModelProviderError(
            "mlflow: set containment.mlflow.tracking_uri (or MLFLOW_TRACKING_URI) to the "
            f"http(s) URL of the tracking server (got {uri!r})",
            retryable=False,
        )
    token = config.token.get_secret_value() if config.token else None
    password = config.password.get_secret_value() if config.password else None
    auth = MlflowAuth(
        token=token or os.environ.get("MLFLOW_TRACKING_TOKEN"),
        username=config.username or os.environ.get("MLFLOW_TRACKING_USERNAME"),
        password=password or os.environ.get("MLFLOW_TRACKING_PASSWORD"),
    )
    return MlflowClient(uri, auth=auth, timeout=config.timeout_seconds)


def mlflow_artifact_check(settings: Settings) -> Callable[[str], ArtifactCheck] | None:
    """What the model-integrity poller uses for `models:/` URIs; None without a server."""
    try:
        client = mlflow_client(settings)
    except ModelProviderError:
        return None
    return lambda uri: registry_artifact_check(client, uri)


_FACTORIES: dict[str, Callable[[Settings], ModelProvider]] = {
    "mlflow": lambda settings: MlflowModels(mlflow_client(settings)),
    "local": lambda settings: LocalModels(settings.local_models_file),
}

PROVIDER_NAMES = frozenset(_FACTORIES)


class ModelProviders(ProviderRegistry[ModelProvider]):
    """Builds each provider once, when first asked for: its clients are then reused."""

    kind = "model"
    factories = _FACTORIES
    error = ModelProviderError
