"""The Kubernetes API server endpoints the provider uses:

    GET    /apis/apps/v1/namespaces/{ns}/deployments/{name}
    PATCH  /apis/apps/v1/namespaces/{ns}/deployments/{name}   (strategic merge patch)
    GET    /apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/{name}
    POST   /apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies
    DELETE /apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/{name}

Every object the server would store (a created NetworkPolicy, a Deployment after a patch, the
Deployments tests add) is validated against the Kubernetes JSON schemas of the server's
version (`kubernetes-validate`, strict: an unknown field is an error, where a real server
would drop it with a warning). An invalid object is answered 422 `Invalid` as the API server
does, and recorded: stopping the emulator then fails the test with the validation errors, so
a provider cannot send a malformed object unnoticed.

Errors are `Status` objects. The patch is applied as a JSON merge patch, which is what a
strategic merge patch does for the maps and scalars the provider patches (annotations,
replicas; `null` deletes a key).
"""

from __future__ import annotations

import copy
from typing import Any

import kubernetes
import kubernetes_validate

from tests.integrations.emulators.base import Answer, Emulator, Request

_DEPLOYMENT = r"/apis/apps/v1/namespaces/(?P<ns>[^/]+)/deployments/(?P<name>[^/]+)"
_POLICIES = r"/apis/networking.k8s.io/v1/namespaces/(?P<ns>[^/]+)/networkpolicies"
# The patch types the API server accepts on a Deployment (anything else is 415).
_PATCH_TYPES = (
    "application/strategic-merge-patch+json",
    "application/merge-patch+json",
)
# The Kubernetes minor version the installed client is generated for (client 37 is 1.37).
SERVER_VERSION = f"1.{kubernetes.__version__.split('.')[0]}"


def merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def schema_errors(obj: dict[str, Any], version: str) -> str | None:
    """Why `obj` is not a valid object of its kind in Kubernetes `version`, or None."""
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.path) or "(root)"
        return f"{where}: {error.message}"
    return None


class KubernetesApi(Emulator):
    def __init__(self, token: str, version: str = SERVER_VERSION) -> None:
        super().__init__()
        self.token = token
        self.version = version
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.policies: dict[tuple[str, str], dict[str, Any]] = {}
        # "<request>: <validation error>" for each object refused as invalid.
        self.invalid: list[str] = []
        self.route("GET", _DEPLOYMENT, self._get_deployment)
        self.route("PATCH", _DEPLOYMENT, self._patch_deployment)
        self.route("GET", f"{_POLICIES}/(?P<name>[^/]+)", self._get_policy)
        self.route("POST", _POLICIES, self._create_policy)
        self.route("DELETE", f"{_POLICIES}/(?P<name>[^/]+)", self._delete_policy)

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("Authorization") == f"Bearer {self.token}")

    def stop(self) -> None:
        super().stop()
        if self.invalid:
            raise AssertionError(
                f"objects the Kubernetes {self.version} API refuses as invalid:\n"
                + "\n".join(self.invalid)
            )

    def error(self, status: int, message: str) -> Answer:
        reasons = {
            401: "Unauthorized",
            404: "NotFound",
            409: "AlreadyExists",
            415: "UnsupportedMediaType",
            422: "Invalid",
        }
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
        deployment = {
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
        problem = schema_errors(deployment, self.version)
        assert problem is None, f"the test's Deployment is invalid: {problem}"
        self.deployments[(namespace, name)] = deployment

    def _key(self, request: Request) -> tuple[str, str]:
        return request.match["ns"], request.match["name"]

    def _invalid(self, request: Request, obj: dict[str, Any]) -> Answer | None:
        """The 422 answer for an object the server would refuse, recorded; None if valid."""
        problem = schema_errors(obj, self.version)
        if problem is None:
            return None
        self.invalid.append(f"{request.method} {request.path}: {problem}")
        kind = obj.get("kind", "object")
        name = (obj.get("metadata") or {}).get("name", "")
        return self.error(422, f'{kind} "{name}" is invalid: {problem}')

    def _get_deployment(self, request: Request) -> Answer:
        deployment = self.deployments.get(self._key(request))
        if deployment is None:
            return self.error(404, f'deployments.apps "{request.match["name"]}" not found')
        return 200, deployment

    def _patch_deployment(self, request: Request) -> Answer:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type not in _PATCH_TYPES:
            return self.error(
                415, f"the body of the request was in an unknown format: {content_type}"
            )
        deployment = self.deployments.get(self._key(request))
        if deployment is None:
            return self.error(404, f'deployments.apps "{request.match["name"]}" not found')
        if not isinstance(request.body, dict):
            return self.error(400, "the patch is not a JSON object")
        # Checked on a copy: a refused patch changes nothing.
        patched = merge(copy.deepcopy(deployment), request.body)
        refused = self._invalid(request, patched)
        if refused is not None:
            return refused
        deployment.clear()
        deployment.update(patched)
        return 200, deployment

    def _get_policy(self, request: Request) -> Answer:
        policy = self.policies.get(self._key(request))
        if policy is None:
            return self.error(404, f'networkpolicies "{request.match["name"]}" not found')
        return 200, policy

    def _create_policy(self, request: Request) -> Answer:
        if not isinstance(request.body, dict):
            return self.error(400, "the body is not a JSON object")
        body = copy.deepcopy(request.body)
        # The server takes the type from the URL when the body leaves it out.
        body.setdefault("apiVersion", "networking.k8s.io/v1")
        body.setdefault("kind", "NetworkPolicy")
        refused = self._invalid(request, body)
        if refused is not None:
            return refused
        name = (body.get("metadata") or {}).get("name")
        if not name:
            return self.error(422, 'NetworkPolicy "" is invalid: metadata.name: Required value')
        key = (request.match["ns"], name)
        if key in self.policies:
            return self.error(409, f'networkpolicies "{key[1]}" already exists')
        body["metadata"]["namespace"] = key[0]
        self.policies[key] = body
        return 201, body

    def _delete_policy(self, request: Request) -> Answer:
        if self.policies.pop(self._key(request), None) is None:
            return self.error(404, f'networkpolicies "{request.match["name"]}" not found')
        return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}
