"""What each endpoint provider does at its service, beyond the shared behaviour."""

from __future__ import annotations

import pytest

from integrations.endpoints.base import EndpointProviderError
from integrations.endpoints.kubernetes import KubernetesEndpoints, Target
from integrations.endpoints.litellm_models import LiteLLMModels
from integrations.endpoints.sagemaker import SageMakerEndpoints
from smokejumper.settings.endpoints import KubernetesSettings
from tests.integrations.emulators.kubernetes import KubernetesApi
from tests.integrations.emulators.litellm import LiteLLMProxy
from tests.integrations.endpoints.conftest import ADMIN_SECRET, SageMaker


def kubernetes(api: KubernetesApi, **targets: Target) -> KubernetesEndpoints:
    settings = KubernetesSettings(host=api.url, token=ADMIN_SECRET)  # type: ignore[arg-type]
    provider = KubernetesEndpoints.from_settings(settings)
    provider.endpoints.update(targets)
    return provider


def test_scaling_to_zero_says_who_and_why_and_restore_clears_it() -> None:
    with KubernetesApi(ADMIN_SECRET).running() as api:
        assert isinstance(api, KubernetesApi)
        api.add_deployment("llm", "chat", replicas=4)
        provider = kubernetes(api)

        before = provider.state("llm/chat")
        provider.isolate("llm/chat", by="incident 7", reason="jailbreak")
        deployment = api.deployments[("llm", "chat")]

        assert before.details["replicas"] == 4
        assert deployment["spec"]["replicas"] == 0
        assert deployment["metadata"]["annotations"] == {
            "smokejumper.io/isolated-by": "incident 7",
            "smokejumper.io/reason": "jailbreak",
            "smokejumper.io/replicas-before": "4",
        }
        provider.restore("llm/chat", before)
        assert deployment["spec"]["replicas"] == 4
        assert deployment["metadata"]["annotations"] == {}


def test_the_network_policy_denies_all_traffic_of_the_deployments_pods() -> None:
    with KubernetesApi(ADMIN_SECRET).running() as api:
        assert isinstance(api, KubernetesApi)
        api.add_deployment("llm", "chat-v2", replicas=2)
        # A configured endpoint name, in the other mode than the default.
        provider = kubernetes(api, chat=Target("llm", "chat-v2", "network_policy"))

        before = provider.state("chat")
        after = provider.isolate("chat", by="incident 8", reason="data leak")
        policy = api.policies[("llm", "smokejumper-isolate-chat-v2")]

        assert (before.status, after.status) == ("serving", "isolated")
        assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "chat-v2"}}
        assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
        assert "ingress" not in policy["spec"] and "egress" not in policy["spec"]
        assert policy["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "smokejumper"}
        # The pods keep running, for forensics.
        assert api.deployments[("llm", "chat-v2")]["spec"]["replicas"] == 2
        provider.restore("chat", before)
        assert api.policies == {}


def test_kubernetes_endpoint_names_need_a_namespace() -> None:
    with KubernetesApi(ADMIN_SECRET).running() as api:
        assert isinstance(api, KubernetesApi)
        with pytest.raises(EndpointProviderError) as bad:
            kubernetes(api).state("chat")
        assert bad.value.retryable is False
        assert api.requests == []


def test_litellm_records_definitions_without_credentials() -> None:
    with LiteLLMProxy(ADMIN_SECRET).running() as proxy:
        assert isinstance(proxy, LiteLLMProxy)
        proxy.add_model(
            "chat",
            {
                "model": "openai/gpt-4o",
                "api_key": "os.environ/OPENAI_API_KEY",
                "organization": "org-****abcd",
                "max_tokens": 1024,
                "litellm_credential_name": "openai-prod",
            },
        )
        models = LiteLLMModels(proxy.url, ADMIN_SECRET)

        (recorded,) = models.state("chat").details["deployments"]

        assert recorded["litellm_params"] == {
            "model": "openai/gpt-4o",
            "max_tokens": 1024,
            "litellm_credential_name": "openai-prod",
        }


def test_litellm_refuses_config_file_models_before_removing_anything() -> None:
    with LiteLLMProxy(ADMIN_SECRET).running() as proxy:
        assert isinstance(proxy, LiteLLMProxy)
        proxy.add_model("chat", {"model": "openai/gpt-4o"})
        proxy.add_model("chat", {"model": "openai/gpt-4o-mini"}, db_model=False)
        models = LiteLLMModels(proxy.url, ADMIN_SECRET)

        with pytest.raises(EndpointProviderError) as refused:
            models.isolate("chat", by="incident 9")

        assert refused.value.retryable is False
        assert "config file" in str(refused.value)
        assert len(proxy.deployments("chat")) == 2
        assert proxy.calls("POST", "/model/delete") == 0


def test_sagemaker_switches_to_the_endpoints_own_isolation_config(sagemaker: SageMaker) -> None:
    name = sagemaker.endpoint()
    provider = SageMakerEndpoints(sagemaker.url, "maintenance", {name: f"{name}-v3-known-good"})
    sagemaker.client.create_endpoint_config(
        EndpointConfigName=f"{name}-v3-known-good",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.g4dn.xlarge",
            }
        ],
    )

    before = provider.state(name)
    provider.isolate(name, by="incident 10")

    assert before.details["endpoint_config"] == f"{name}-v3"
    assert sagemaker.config_of(name) == f"{name}-v3-known-good"
    assert provider.verify_isolated(name)
    provider.restore(name, before)
    assert sagemaker.config_of(name) == f"{name}-v3"


def test_sagemaker_without_a_maintenance_config_changes_nothing(sagemaker: SageMaker) -> None:
    name = sagemaker.endpoint()
    provider = SageMakerEndpoints(sagemaker.url)

    with pytest.raises(EndpointProviderError) as refused:
        provider.isolate(name, by="incident 11")

    assert refused.value.retryable is False
    assert "maintenance_config" in str(refused.value)
    assert sagemaker.updates(name) == 0


def test_sagemaker_names_a_missing_maintenance_config(sagemaker: SageMaker) -> None:
    name = sagemaker.endpoint()
    provider = SageMakerEndpoints(sagemaker.url, "no-such-config")

    with pytest.raises(EndpointProviderError) as refused:
        provider.isolate(name, by="incident 12")

    assert refused.value.retryable is False
    assert "no-such-config" in str(refused.value)
    assert sagemaker.updates(name) == 0
