"""The Kubernetes emulator checks every object against the API's schemas: a malformed object
is refused as the API server refuses it (422 Invalid, nothing stored) and fails the test that
sent it, naming the field."""

from __future__ import annotations

import httpx
import pytest

from tests.integrations.emulators.kubernetes import SERVER_VERSION, KubernetesApi
from tests.integrations.endpoints.conftest import ADMIN_SECRET

POLICIES = "/apis/networking.k8s.io/v1/namespaces/llm/networkpolicies"
DEPLOYMENT = "/apis/apps/v1/namespaces/llm/deployments/chat"
ADMIN = {"Authorization": f"Bearer {ADMIN_SECRET}"}


def test_a_malformed_network_policy_is_refused_and_fails_the_test() -> None:
    api = KubernetesApi(ADMIN_SECRET)
    with pytest.raises(AssertionError) as failed:
        with api.running():
            # A selector written as kubectl's `-l` takes it, not as a LabelSelector object.
            body = {
                "metadata": {"name": "deny-all"},
                "spec": {"podSelector": "app=chat", "policyTypes": ["Ingress", "Egress"]},
            }

            answer = httpx.post(f"{api.url}{POLICIES}", json=body, headers=ADMIN)

            assert answer.status_code == 422
            assert answer.json()["reason"] == "Invalid"
            assert "spec.podSelector" in answer.json()["message"]
            assert api.policies == {}

    assert f"Kubernetes {SERVER_VERSION} API refuses" in str(failed.value)
    assert f"POST {POLICIES}: spec.podSelector: 'app=chat' is not of type 'object'" in str(
        failed.value
    )


def test_an_unknown_field_is_refused_not_dropped() -> None:
    api = KubernetesApi(ADMIN_SECRET)
    with pytest.raises(AssertionError) as failed:
        with api.running():
            # snake_case where the API says policyTypes: a server would drop the field, and
            # the policy would then deny ingress only.
            body = {
                "metadata": {"name": "deny-all"},
                "spec": {"podSelector": {}, "policy_types": ["Ingress", "Egress"]},
            }

            answer = httpx.post(f"{api.url}{POLICIES}", json=body, headers=ADMIN)

            assert answer.status_code == 422
            assert api.policies == {}

    assert "spec: Additional properties are not allowed ('policy_types' was unexpected)" in str(
        failed.value
    )


def test_a_patch_making_the_deployment_invalid_changes_nothing() -> None:
    api = KubernetesApi(ADMIN_SECRET)
    with pytest.raises(AssertionError) as failed:
        with api.running():
            api.add_deployment("llm", "chat", replicas=3)
            patch = {"spec": {"replicas": "zero"}}
            headers = {**ADMIN, "Content-Type": "application/strategic-merge-patch+json"}

            answer = httpx.patch(f"{api.url}{DEPLOYMENT}", json=patch, headers=headers)

            assert answer.status_code == 422
            assert api.deployments[("llm", "chat")]["spec"]["replicas"] == 3

    assert "spec.replicas: 'zero' is not of type 'integer'" in str(failed.value)


def test_a_patch_in_a_format_the_server_does_not_take_is_refused() -> None:
    with KubernetesApi(ADMIN_SECRET).running() as api:
        assert isinstance(api, KubernetesApi)
        api.add_deployment("llm", "chat", replicas=3)

        answer = httpx.patch(
            f"{api.url}{DEPLOYMENT}", json={"spec": {"replicas": 0}}, headers=ADMIN
        )

        assert answer.status_code == 415
        assert api.deployments[("llm", "chat")]["spec"]["replicas"] == 3
