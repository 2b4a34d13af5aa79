"""Endpoint providers under test: Kubernetes and LiteLLM on local emulators of their APIs
(the Kubernetes one validates every object against the API's schemas), SageMaker on a real
moto_server process (with the one call moto lacks added, see moto_sagemaker.py)."""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from activities.containment import ContainmentActivities
from smokejumper.config import load_settings
from smokejumper.domain.containment import ActionResult, EndpointAction
from smokejumper.store.db import Store
from smokejumper.store.tables import Action
from tests.helpers import free_port, insert_incident, isolate_aws
from tests.integrations.emulators.base import Emulator
from tests.integrations.emulators.kubernetes import KubernetesApi
from tests.integrations.emulators.litellm import LiteLLMProxy

ADMIN_SECRET = "admin-credential-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[3]
MOTO_SAGEMAKER = (sys.executable, "-m", "tests.integrations.endpoints.moto_sagemaker")

# -- SageMaker on moto_server -------------------------------------------------------------


@pytest.fixture(scope="session")
def sagemaker_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto_server (this venv's moto) with UpdateEndpoint added, recording its requests."""
    directory = tmp_path_factory.mktemp("moto-sagemaker")
    log_path = directory / "moto_server.log"
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*MOTO_SAGEMAKER, "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "MOTO_RECORDER_FILEPATH": str(directory / "recording.jsonl")},
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"moto_server (SageMaker) did not start:\n{log_path.read_text()[-2000:]}",
                    pytrace=False,
                )
            try:
                httpx.post(f"{endpoint}/moto-api/recorder/start-recording").raise_for_status()
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class SageMaker:
    url: str
    client: Any

    def endpoint(self) -> str:
        """A new endpoint on config `<name>-v3`, and its maintenance config `maintenance`."""
        name = f"chat-{uuid.uuid4().hex[:8]}"
        self.client.create_model(
            ModelName=name,
            ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/llm:3"},
        )
        variant = {
            "VariantName": "main",
            "ModelName": name,
            "InitialInstanceCount": 1,
            "InstanceType": "ml.g4dn.xlarge",
        }
        existing = self.client.list_endpoint_configs(NameContains="maintenance")
        configs = [f"{name}-v3"]
        if not existing["EndpointConfigs"]:
            configs.append("maintenance")  # Shared by every test's endpoints.
        for config in configs:
            self.client.create_endpoint_config(
                EndpointConfigName=config, ProductionVariants=[variant]
            )
        self.client.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v3")
        return name

    def config_of(self, name: str) -> str:
        return str(self.client.describe_endpoint(EndpointName=name)["EndpointConfigName"])

    def updates(self, name: str) -> int:
        """UpdateEndpoint requests for `name` the server received (its own recording)."""
        response = httpx.get(f"{self.url}/moto-api/recorder/download-recording")
        response.raise_for_status()
        count = 0
        for line in response.text.splitlines():
            entry = json.loads(line)
            target = entry.get("headers", {}).get("X-Amz-Target", "")
            if target != "SageMaker.UpdateEndpoint":
                continue
            body = entry.get("body") or "{}"
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode()
            if json.loads(body).get("EndpointName") == name:
                count += 1
        return count


@pytest.fixture
def sagemaker(sagemaker_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SageMaker:
    isolate_aws(monkeypatch, tmp_path, "SAGEMAKER")
    client = boto3.session.Session().client("sagemaker", endpoint_url=sagemaker_server)
    return SageMaker(sagemaker_server, client)


# -- one shape for every provider ---------------------------------------------------------


@dataclass
class EndpointCase:
    """One endpoint provider: how to make an endpoint, what isolation looks like at the
    service, how many isolating calls it received, and what restore must put back."""

    provider: str
    containment: dict[str, Any]
    new_endpoint: Callable[[], str]
    is_isolated: Callable[[str], bool]
    isolate_calls: Callable[[str], int]
    snapshot: Callable[[str], Any]
    emulator: Emulator | None = None

    def activities(self, store: Store, tmp_path: Path, **override: Any) -> ContainmentActivities:
        containment = copy.deepcopy(self.containment)
        for section, values in override.items():
            containment[section].update(values)
        settings = load_settings(data_dir=tmp_path / "data", containment=containment)
        return ContainmentActivities(store, settings)


def kubernetes_case(api: KubernetesApi, mode: str) -> EndpointCase:
    def new_endpoint() -> str:
        name = f"chat-{uuid.uuid4().hex[:6]}"
        api.add_deployment("llm", name, replicas=3)
        return f"llm/{name}"

    def deployment(endpoint: str) -> dict[str, Any]:
        namespace, _, name = endpoint.partition("/")
        return api.deployments[(namespace, name)]

    def policy_key(endpoint: str) -> tuple[str, str]:
        namespace, _, name = endpoint.partition("/")
        return namespace, f"smokejumper-isolate-{name}"

    if mode == "scale":
        is_isolated = lambda endpoint: deployment(endpoint)["spec"]["replicas"] == 0  # noqa: E731
        calls = lambda endpoint: api.calls(  # noqa: E731
            "PATCH", f"/apis/apps/v1/namespaces/llm/deployments/{endpoint.split('/')[1]}"
        )
    else:
        is_isolated = lambda endpoint: policy_key(endpoint) in api.policies  # noqa: E731
        calls = lambda endpoint: api.calls(  # noqa: E731
            "POST", "/apis/networking.k8s.io/v1/namespaces/llm/networkpolicies"
        )
    return EndpointCase(
        provider="kubernetes",
        containment={"kubernetes": {"host": api.url, "token": ADMIN_SECRET, "mode": mode}},
        new_endpoint=new_endpoint,
        is_isolated=is_isolated,
        isolate_calls=calls,
        snapshot=lambda endpoint: (
            copy.deepcopy(deployment(endpoint)),
            policy_key(endpoint) in api.policies,
        ),
        emulator=api,
    )


def litellm_case(proxy: LiteLLMProxy) -> EndpointCase:
    ids: list[str] = []

    def new_endpoint() -> str:
        # The proxy is fresh for each test, so one name will do; it keys the restore params.
        name = "support-chat"
        for region in ("eastus", "westeurope"):
            model_id = proxy.add_model(
                name,
                {
                    "model": "azure/gpt-4o",
                    "api_base": f"https://{region}.example.openai.azure.com",
                    "api_key": "os.environ/AZURE_API_KEY",
                    "max_tokens": 2048,
                },
            )
            ids.append(model_id)
        return name

    def deletes(name: str) -> int:
        # Per deployment: each is deleted once per isolation.
        return max((proxy.deletes(model_id) for model_id in ids), default=0)

    return EndpointCase(
        provider="litellm",
        containment={
            "litellm": {
                "base_url": proxy.url,
                "api_key": ADMIN_SECRET,
                # The proxy never returns the credential, so restore names it again.
                "model_api_key_env": {"support-chat": "AZURE_API_KEY"},
            }
        },
        new_endpoint=new_endpoint,
        is_isolated=lambda name: not proxy.deployments(name),
        isolate_calls=deletes,
        snapshot=lambda name: sorted(
            json.dumps(d, sort_keys=True) for d in proxy.deployments(name)
        ),
        emulator=proxy,
    )


def sagemaker_case(sagemaker: SageMaker) -> EndpointCase:
    return EndpointCase(
        provider="sagemaker",
        containment={
            "sagemaker": {"endpoint_url": sagemaker.url, "maintenance_config": "maintenance"}
        },
        new_endpoint=sagemaker.endpoint,
        is_isolated=lambda name: sagemaker.config_of(name) == "maintenance",
        isolate_calls=sagemaker.updates,
        snapshot=sagemaker.config_of,
    )


CASES = ("kubernetes-scale", "kubernetes-network_policy", "litellm", "sagemaker")


@pytest.fixture(params=CASES)
def endpoint_case(request: pytest.FixtureRequest) -> Iterator[EndpointCase]:
    name = str(request.param)
    if name == "sagemaker":
        yield sagemaker_case(request.getfixturevalue("sagemaker"))
        return
    if name == "litellm":
        proxy = LiteLLMProxy(ADMIN_SECRET)
        with proxy.running():
            case = litellm_case(proxy)
            yield case
        return
    api = KubernetesApi(ADMIN_SECRET)
    with api.running():
        yield kubernetes_case(api, name.split("-", 1)[1])


def new_incident_id(store: Store) -> int:
    return insert_incident(store, playbook="test-isolate", fingerprint=uuid.uuid4().hex).incident_id


def endpoint_action(incident_id: int, provider: str, endpoint: str) -> EndpointAction:
    return EndpointAction(
        incident_id=incident_id,
        step="isolate endpoint",
        provider=provider,
        endpoint=endpoint,
        reason="jailbreak exfiltrating data",
    )


def row_of(store: Store, action: EndpointAction) -> Action:
    with store.session() as session:
        row = session.scalar(select(Action).where(Action.business_key == action.business_key))
    assert row is not None
    return row


async def isolate(activities: ContainmentActivities, action: EndpointAction) -> ActionResult:
    result: ActionResult = await ActivityEnvironment().run(activities.isolate_endpoint, action)
    return result


async def restore(activities: ContainmentActivities, action: EndpointAction) -> ActionResult:
    result: ActionResult = await ActivityEnvironment().run(activities.restore_endpoint, action)
    return result
