"""Kubernetes serving Deployments, isolated one of two ways (chosen per endpoint):

- `scale`: record the Deployment's replica count, then scale it to 0 (one patch that also
  annotates who and why). Restore sets the recorded count back and removes the annotations.
- `network_policy`: create a deny-all NetworkPolicy (no ingress, no egress) selecting the
  Deployment's pods, so they keep running (for forensics) but cannot be reached or reach out.
  Restore deletes the policy.

Uses the official client; endpoints are configured names or `namespace/deployment`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from integrations.endpoints.base import (
    ISOLATED,
    SERVING,
    EndpointNotFound,
    EndpointProviderError,
    EndpointState,
)
from smokejumper.settings.endpoints import KubernetesSettings

PROVIDER = "kubernetes"
SCALE = "scale"
NETWORK_POLICY = "network_policy"
ANNOTATION = "smokejumper.io/"
MANAGED_BY = {"app.kubernetes.io/managed-by": "smokejumper"}


@dataclass(frozen=True)
class Target:
    namespace: str
    deployment: str
    mode: str

    @property
    def policy(self) -> str:
        return f"smokejumper-isolate-{self.deployment}"[:253]


def api_client(settings: KubernetesSettings) -> Any:
    """An API client from `host` + `token`, a kubeconfig, or the pod's service account."""
    configuration = k8s.Configuration()
    if settings.host:
        configuration.host = settings.host
        if settings.token is not None:
            configuration.api_key = {"authorization": settings.token.get_secret_value()}
            configuration.api_key_prefix = {"authorization": "Bearer"}
        if settings.ca_file is not None:
            configuration.ssl_ca_cert = str(settings.ca_file)
    elif settings.kubeconfig is not None:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(settings.kubeconfig),
            context=settings.context,
            client_configuration=configuration,
        )
    else:
        try:
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        except k8s_config.ConfigException:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                context=settings.context, client_configuration=configuration
            )
    return k8s.ApiClient(configuration)


class KubernetesEndpoints:
    name = PROVIDER
    restorable = True

    def __init__(
        self,
        client: Any,
        *,
        mode: str = SCALE,
        endpoints: dict[str, Target] | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.apps = k8s.AppsV1Api(client)
        self.networking = k8s.NetworkingV1Api(client)
        self.mode = mode
        self.endpoints = dict(endpoints or {})
        self.timeout = timeout_seconds

    @classmethod
    def from_settings(cls, settings: KubernetesSettings) -> KubernetesEndpoints:
        targets = {
            name: Target(target.namespace, target.deployment, target.mode or settings.mode)
            for name, target in settings.endpoints.items()
        }
        return cls(api_client(settings), mode=settings.mode, endpoints=targets)

    def target(self, endpoint: str) -> Target:
        if endpoint in self.endpoints:
            return self.endpoints[endpoint]
        namespace, _, deployment = endpoint.partition("/")
        if not namespace or not deployment or "/" in deployment:
            raise EndpointProviderError(
                f"kubernetes: endpoint {endpoint!r} is not configured in "
                "containment.kubernetes.endpoints and is not namespace/deployment",
                retryable=False,
            )
        return Target(namespace, deployment, self.mode)

    def _call(
        self, what: str, call: Any, *args: Any, done_if: int | None = None, **kwargs: Any
    ) -> Any:
        """Call the API; `done_if` is a status that means the work is already done."""
        try:
            return call(*args, _request_timeout=self.timeout, **kwargs)
        except ApiException as exc:
            status = int(exc.status or 0)
            if status == done_if:
                return None
            if status == 404:
                raise EndpointNotFound(f"kubernetes {what}: not found") from None
            retryable = status >= 500 or status in (0, 409, 429)
            if status in (401, 403):
                message = f"kubernetes {what}: the configured credential was refused"
            else:
                message = f"kubernetes {what}: {exc.reason or 'error'}"
            raise EndpointProviderError(f"{message} (HTTP {status})", retryable=retryable) from None
        except HTTPError as exc:
            raise EndpointProviderError(
                f"kubernetes {what}: cannot reach the API server ({type(exc).__name__})"
            ) from None

    def _deployment(self, target: Target) -> Any:
        return self._call(
            f"read deployment {target.namespace}/{target.deployment}",
            self.apps.read_namespaced_deployment,
            target.deployment,
            target.namespace,
        )

    def _policy(self, target: Target) -> Any | None:
        return self._call(
            f"read network policy {target.namespace}/{target.policy}",
            self.networking.read_namespaced_network_policy,
            target.policy,
            target.namespace,
            done_if=404,
        )

    def state(self, endpoint: str) -> EndpointState:
        return self._state_of(endpoint, self.target(endpoint))

    def _state_of(self, endpoint: str, target: Target) -> EndpointState:
        deployment = self._deployment(target)
        replicas = deployment.spec.replicas
        details: dict[str, Any] = {
            "namespace": target.namespace,
            "deployment": target.deployment,
            "mode": target.mode,
            # Unset replicas means 1 to Kubernetes; recorded as such so restore is exact.
            "replicas": 1 if replicas is None else int(replicas),
        }
        if target.mode == SCALE:
            isolated = details["replicas"] == 0
        else:
            policy = self._policy(target)
            isolated = policy is not None
            details["network_policy"] = target.policy if isolated else None
        return EndpointState(
            endpoint=endpoint,
            provider=PROVIDER,
            status=ISOLATED if isolated else SERVING,
            details=details,
        )

    def isolate(self, endpoint: str, *, by: str, reason: str | None = None) -> EndpointState:
        target = self.target(endpoint)
        annotations = {f"{ANNOTATION}isolated-by": by, f"{ANNOTATION}reason": reason or ""}
        if target.mode == SCALE:
            before = self._state_of(endpoint, target)
            annotations[f"{ANNOTATION}replicas-before"] = str(before.details["replicas"])
            self._call(
                f"scale deployment {target.namespace}/{target.deployment} to 0",
                self.apps.patch_namespaced_deployment,
                target.deployment,
                target.namespace,
                {"metadata": {"annotations": annotations}, "spec": {"replicas": 0}},
            )
        else:
            self._create_policy(target, annotations)
        return self._state_of(endpoint, target)

    def _create_policy(self, target: Target, annotations: dict[str, str]) -> None:
        selector = self._deployment(target).spec.selector
        body = k8s.V1NetworkPolicy(
            metadata=k8s.V1ObjectMeta(
                name=target.policy, labels=MANAGED_BY, annotations=annotations
            ),
            # No rules under both types: nothing in, nothing out.
            spec=k8s.V1NetworkPolicySpec(pod_selector=selector, policy_types=["Ingress", "Egress"]),
        )
        # 409: an earlier attempt created it; the state read after this confirms it.
        self._call(
            f"create network policy {target.namespace}/{target.policy}",
            self.networking.create_namespaced_network_policy,
            target.namespace,
            body,
            done_if=409,
        )

    def verify_isolated(self, endpoint: str) -> bool:
        return self.state(endpoint).status == ISOLATED

    def restore(self, endpoint: str, before: EndpointState) -> EndpointState:
        details = before.details
        target = Target(
            str(details.get("namespace")),
            str(details.get("deployment")),
            str(details.get("mode") or self.mode),
        )
        if target.mode == SCALE:
            replicas = details.get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise EndpointProviderError(
                    f"kubernetes: no replica count was recorded for {endpoint}", retryable=False
                )
            cleared: dict[str, None] = {
                f"{ANNOTATION}{name}": None for name in ("isolated-by", "reason", "replicas-before")
            }
            self._call(
                f"scale deployment {target.namespace}/{target.deployment} to {replicas}",
                self.apps.patch_namespaced_deployment,
                target.deployment,
                target.namespace,
                {"metadata": {"annotations": cleared}, "spec": {"replicas": replicas}},
            )
        elif before.status == SERVING:
            # 404: already gone (an earlier attempt, or by hand): serving, as recorded.
            self._call(
                f"delete network policy {target.namespace}/{target.policy}",
                self.networking.delete_namespaced_network_policy,
                target.policy,
                target.namespace,
                done_if=404,
            )
        # The recorded target, not today's configuration: what was isolated is restored.
        return self._state_of(endpoint, target)
