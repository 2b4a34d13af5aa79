"""`[containment.mlflow]`: the MLflow model registry."""

from __future__ import annotations

from pydantic import (
    Field,
)

from smokejumper.settings.sections import Secret, Section


class MlflowSettings(Section):
    tracking_uri: str | None = Field(
        default=None,
        description="Base URL of the MLflow tracking server (model registry) the `mlflow` "
        "model provider and `inventory sync mlflow` use. Unset: MLFLOW_TRACKING_URI.",
    )
    token: Secret | None = Field(
        default=None, description="Bearer token for MLflow (secret). Unset: MLFLOW_TRACKING_TOKEN."
    )
    username: str | None = Field(
        default=None, description="Basic-auth user for MLflow. Unset: MLFLOW_TRACKING_USERNAME."
    )
    password: Secret | None = Field(
        default=None,
        description="Basic-auth password for MLflow (secret). Unset: MLFLOW_TRACKING_PASSWORD.",
    )
    timeout_seconds: float = Field(default=30.0, gt=0, description="Per-request timeout.")
