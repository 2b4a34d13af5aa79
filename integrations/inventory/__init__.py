"""Inventory sources: systems `smokejumper inventory sync NAME` can list.

The CLI (core) loads this package by name, as it loads process entry points, so the core
never imports `integrations` statically.
"""

from __future__ import annotations

from collections.abc import Callable

from integrations.inventory.aws_iam import AwsIamKeySource
from integrations.inventory.mlflow import MlflowSource
from integrations.models.base import ModelProviderError
from integrations.models.registry import mlflow_client
from smokejumper.config import ConfigError, Settings
from smokejumper.inventory.sync import InventorySource


def _mlflow(settings: Settings, prefix: str) -> InventorySource:
    try:
        return MlflowSource(mlflow_client(settings), prefix=prefix)
    except ModelProviderError as exc:  # no tracking server configured
        raise ConfigError(str(exc)) from None


# Each takes the settings and a name prefix (models, IAM users) to sync only part of it.
SOURCES: dict[str, Callable[[Settings, str], InventorySource]] = {
    "mlflow": _mlflow,
    "aws-iam": lambda settings, prefix: AwsIamKeySource(
        settings.containment.aws_endpoint_url, prefix=prefix
    ),
}
