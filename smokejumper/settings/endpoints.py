"""`[containment.*]` for endpoint providers: Kubernetes and SageMaker."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
)

from smokejumper.settings.sections import Secret, Section

KubernetesMode = Literal["scale", "network_policy"]


class KubernetesEndpointSettings(Section):
    namespace: str = Field(min_length=1, description="Namespace of the serving Deployment.")
    deployment: str = Field(min_length=1, description="Name of the serving Deployment.")
    mode: KubernetesMode | None = Field(
        default=None, description="How to isolate it. Unset: containment.kubernetes.mode."
    )


class KubernetesSettings(Section):
    """The `kubernetes` endpoint provider."""

    kubeconfig: Path | None = Field(
        default=None,
        description="Kubeconfig file. Unset (and no host): in-cluster service account, else "
        "~/.kube/config.",
    )
    context: str | None = Field(default=None, description="Kubeconfig context to use.")
    host: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="API server URL; with `token`, used instead of a kubeconfig.",
    )
    token: Secret | None = Field(
        default=None, description="Bearer token for `host`; a file:/env: reference."
    )
    ca_file: Path | None = Field(default=None, description="CA bundle of the API server.")
    mode: KubernetesMode = Field(
        default="scale",
        description="`scale`: the Deployment to 0 replicas; `network_policy`: a deny-all "
        "NetworkPolicy over its pods.",
    )
    endpoints: dict[str, KubernetesEndpointSettings] = Field(
        default_factory=dict,
        description="Endpoint names playbooks use, to their Deployment. An endpoint not "
        "listed is read as `namespace/deployment`.",
    )


class SageMakerSettings(Section):
    """The `sagemaker` endpoint provider."""

    endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="SageMaker API endpoint (moto_server in tests). Unset: AWS.",
    )
    maintenance_config: str | None = Field(
        default=None,
        description="Endpoint config an isolated endpoint is switched to (e.g. a container "
        "that refuses every request).",
    )
    maintenance_configs: dict[str, str] = Field(
        default_factory=dict,
        description="Per endpoint name, its own isolation config (overrides "
        "maintenance_config), such as its last known good config.",
    )
