"""The Kubernetes API server endpoints the provider uses:

    GET    /apis/apps/v1/namespaces/{ns}/deployments/{name}
    PATCH  /apis/apps/v1/namespaces/{ns}/deployments/{name}   (strategic merge patch)
    GET    /apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/{name}
    POST   /apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies
    DELETE /apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/{name}

Errors are `Status` objects. The patch is applied as a JSON merge patch, which is what a
strategic merge patch does for the maps and scalars the provider patches (annotations,
replicas; `null` deletes a key).
"""

from __future__ import annotations

import copy
from typing import Any

from tests.integrations.emulators.base import Answer, Emulator, Request

_DEPLOYMENT = r"/apis/apps/v1/namespaces/(?P<ns>[^/]+)/deployments/(?P<name>[^/]+)"
_POLICIES = r"/apis/networking.k8s.io/v1/namespaces/(?P<ns>[^/]+)/networkpolicies"


def merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


class KubernetesApi(Emulator):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.policies: dict[tuple[str, str], dict[str, Any]] = {}
        self.route("GET", _DEPLOYMENT, self._get_deployment)
        self.route("PATCH", _DEPLOYMENT, self._patch_deployment)
        self.route("GET", f"{_POLICIES}/(?P<name>[^/]+)", self._get_policy)
        self.route("POST", _POLICIES, self._create_policy)
        self.route("DELETE", f"{_POLICIES}/(?P<name>[^/]+)", self._delete_policy)

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("Authorization") == f"Bearer {self.token}")

    def error(self, status: int, message: str) -> Answer:
        reasons = {401: "Unauthorized", 404: "NotFound", 409: "AlreadyExists"}
        return status, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reasons.get(status, "InternalError"),
            "code": status,
        }

    def add_deployment(self, namespace: str, name: str, replicas: int) -> None:
        labels = {"app": name}
        self.deployments[(namespace, name)] = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "annotations": {}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "model", "image": "serving:1"}]},
                },
            },
        }

    def _key(self, request: Request) -> tuple[str, str]:
        return request.match["ns"], request.match["name"]

    def _get_deployment(self, request: Request) -> Answer:
        deployment = self.deployments.get(self._key(request))
        if deployment is None:
            return self.error(404, f'deployments.apps "{request.match["name"]}" not found')
        return 200, deployment

    def _patch_deployment(self, request: Request) -> Answer:
        deployment = self.deployments.get(self._key(request))
        if deployment is None:
            return self.error(404, f'deployments.apps "{request.match["name"]}" not found')
        merge(deployment, request.body or {})
        return 200, deployment

    def _get_policy(self, request: Request) -> Answer:
        policy = self.policies.get(self._key(request))
        if policy is None:
            return self.error(404, f'networkpolicies "{request.match["name"]}" not found')
        return 200, policy

    def _create_policy(self, request: Request) -> Answer:
        body = dict(request.body or {})
        key = (request.match["ns"], body["metadata"]["name"])
        if key in self.policies:
            return self.error(409, f'networkpolicies "{key[1]}" already exists')
        body.setdefault("apiVersion", "networking.k8s.io/v1")
        body.setdefault("kind", "NetworkPolicy")
        body["metadata"]["namespace"] = key[0]
        self.policies[key] = body
        return 201, body

    def _delete_policy(self, request: Request) -> Answer:
        if self.policies.pop(self._key(request), None) is None:
            return self.error(404, f'networkpolicies "{request.match["name"]}" not found')
        return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}
