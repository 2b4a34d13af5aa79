"""Prompt registry providers by the name the inventory gives (`prompts[].provider`)."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path

from integrations.http_api import HttpApi
from integrations.prompts.base import PromptProvider, PromptProviderError
from integrations.prompts.local import LocalPrompts
from integrations.prompts.mlflow import ERRORS, MlflowPrompts
from integrations.provider_registry import ProviderRegistry
from smokejumper.config import Settings


def local_prompts_file(settings: Settings) -> Path:
    """`containment.prompts.local_file`, else `prompts.json` beside the keys file."""
    return settings.containment.prompts.local_file or settings.local_keys_file.with_name(
        "prompts.json"
    )


def mlflow_api(settings: Settings) -> HttpApi:
    """The MLflow server of the prompt registry: `containment.prompts.mlflow_tracking_uri`,
    else the model registry's (`containment.mlflow`), else MLFLOW_TRACKING_URI; with the
    model registry's credentials (MLflow's own variables fill what is unset)."""
    mlflow = settings.containment.mlflow
    uri = (
        settings.containment.prompts.mlflow_tracking_uri
        or mlflow.tracking_uri
        or os.environ.get("MLFLOW_TRACKING_URI")
    )
    if not uri or not uri.startswith(("http://", "https://")):
        raise PromptProviderError(
            "mlflow prompts: set containment.prompts.mlflow_tracking_uri (or "
            "containment.mlflow.tracking_uri, or MLFLOW_TRACKING_URI) to the http(s) URL of "
            f"the tracking server (got {uri!r})",
            retryable=False,
        )
    token = (mlflow.token.get_secret_value() if mlflow.token else None) or os.environ.get(
        "MLFLOW_TRACKING_TOKEN"
    )
    username = mlflow.username or os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = (mlflow.password.get_secret_value() if mlflow.password else None) or (
        os.environ.get("MLFLOW_TRACKING_PASSWORD", "")
    )
    headers: dict[str, str] = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    elif username:
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    return HttpApi("mlflow", uri, headers, mlflow.timeout_seconds, ERRORS)


_FACTORIES: dict[str, Callable[[Settings], PromptProvider]] = {
    "mlflow": lambda settings: MlflowPrompts(mlflow_api(settings)),
    "local": lambda settings: LocalPrompts(local_prompts_file(settings)),
}

PROVIDER_NAMES = frozenset(_FACTORIES)


class PromptProviders(ProviderRegistry[PromptProvider]):
    """Builds each provider once, when first asked for: its clients are then reused."""

    kind = "prompt"
    factories = _FACTORIES
    error = PromptProviderError
