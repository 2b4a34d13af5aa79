"""`[containment]`: the containment providers, by family."""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    Field,
)

from smokejumper.settings.endpoints import KubernetesSettings, SageMakerSettings
from smokejumper.settings.keys import LiteLLMSettings, OpenAIAdminSettings, VaultSettings
from smokejumper.settings.models import MlflowSettings
from smokejumper.settings.prompts import PromptRegistrySettings
from smokejumper.settings.sections import Section


class ContainmentSettings(Section):
    mlflow: MlflowSettings = Field(
        default_factory=MlflowSettings,
        description="The MLflow model registry (model rollback, inventory sync).",
    )
    aws_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint URL for the AWS IAM key provider (an IAM-compatible service "
        "such as moto_server). Unset: real AWS, with boto3's usual credential chain.",
    )
    local_state_file: Path | None = Field(
        default=None,
        description="JSON file of the embedded control plane's keys (the `local` key "
        "provider). Unset: data_dir/keys.json.",
    )
    openai: OpenAIAdminSettings = Field(default_factory=OpenAIAdminSettings)
    litellm: LiteLLMSettings = Field(default_factory=LiteLLMSettings)
    vault: VaultSettings = Field(default_factory=VaultSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    sagemaker: SageMakerSettings = Field(default_factory=SageMakerSettings)
    prompts: PromptRegistrySettings = Field(
        default_factory=PromptRegistrySettings,
        description="The prompt registries system prompts are rotated in (mlflow, local).",
    )
