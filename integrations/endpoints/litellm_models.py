"""Model routes of a LiteLLM proxy (or another AI gateway with the same model management
API): isolating removes every deployment of the model name (`POST /model/delete`) after
recording its definition (`GET /model/info`); restoring adds them back (`POST /model/new`)
with the same ids.

The proxy never returns a deployment's credentials (`api_key` and the like are dropped or
masked in `/model/info`), so they are not recorded either: a restored deployment gets its
`litellm_credential_name` back (kept in the record), or `api_key: os.environ/<VAR>` from
`containment.litellm.model_api_key_env`, which the proxy resolves. Only models stored in
the proxy's database can be removed this way; a model from its config file is refused
before anything changes.
"""

from __future__ import annotations

import re
from typing import Any

from integrations.endpoints.base import (
    ISOLATED,
    SERVING,
    EndpointNotFound,
    EndpointProviderError,
    EndpointState,
)
from integrations.http_api import ErrorKinds, HttpApi, bearer

PROVIDER = "litellm"
_ERRORS = ErrorKinds(error=EndpointProviderError, not_found=EndpointNotFound)
# Field names whose values are credentials, and values the proxy masked: neither is recorded
# (a masked value posted back would replace the real one).
_SECRET_WORDS = frozenset({"key", "secret", "token", "password", "credential", "credentials"})
_MASKED = re.compile(r"\*{3,}")
# A credential's name, not the credential: what restore needs to find it again.
_REFERENCES = frozenset({"litellm_credential_name"})


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in params.items():
        words = set(name.lower().split("_"))
        if name not in _REFERENCES and words & _SECRET_WORDS:
            continue
        if isinstance(value, str) and _MASKED.search(value):
            continue
        kept[name] = value
    return kept


def _definition(deployment: dict[str, Any]) -> dict[str, Any]:
    return {
        "model_name": deployment.get("model_name"),
        "litellm_params": _clean(dict(deployment.get("litellm_params") or {})),
        "model_info": _clean(dict(deployment.get("model_info") or {})),
    }


class LiteLLMModels:
    name = PROVIDER
    restorable = True

    def __init__(
        self,
        base_url: str,
        admin_key: str,
        timeout_seconds: float = 10.0,
        api_key_env: dict[str, str] | None = None,
    ) -> None:
        self.api = HttpApi(PROVIDER, base_url, bearer(admin_key), timeout_seconds, _ERRORS)
        self.api_key_env = dict(api_key_env or {})

    def _deployments(self, model: str) -> list[dict[str, Any]]:
        body = self.api.json("GET", "/model/info", what=f"list deployments of {model}")
        data = body.get("data") or []
        return [d for d in data if isinstance(d, dict) and d.get("model_name") == model]

    def state(self, endpoint: str) -> EndpointState:
        deployments = self._deployments(endpoint)
        if not deployments:
            raise EndpointNotFound(f"litellm: no deployment serves model {endpoint}")
        return EndpointState(
            endpoint=endpoint,
            provider=PROVIDER,
            status=SERVING,
            details={"deployments": [_definition(d) for d in deployments]},
        )

    def isolate(self, endpoint: str, *, by: str, reason: str | None = None) -> EndpointState:
        deployments = self._deployments(endpoint)
        ids = [str((d.get("model_info") or {}).get("id") or "") for d in deployments]
        if not all(ids):
            raise EndpointProviderError(
                f"litellm: a deployment of {endpoint} has no model id", retryable=False
            )
        from_config = [
            d for d in deployments if (d.get("model_info") or {}).get("db_model") is False
        ]
        if from_config:
            raise EndpointProviderError(
                f"litellm: model {endpoint} is defined in the proxy's config file, which the "
                "management API cannot change; remove it there or use the controls check",
                retryable=False,
            )
        for model_id in ids:
            self.api.request(
                "POST",
                "/model/delete",
                what=f"delete deployment {model_id} of {endpoint}",
                json={"id": model_id},
            )
        return EndpointState(
            endpoint=endpoint,
            provider=PROVIDER,
            status=ISOLATED,
            details={"removed": ids, "by": by, "reason": reason},
        )

    def verify_isolated(self, endpoint: str) -> bool:
        return not self._deployments(endpoint)

    def restore(self, endpoint: str, before: EndpointState) -> EndpointState:
        if before.status != SERVING:
            raise EndpointProviderError(
                f"litellm: {endpoint} was not serving before; nothing to put back",
                retryable=False,
            )
        present = {str((d.get("model_info") or {}).get("id")) for d in self._deployments(endpoint)}
        for definition in before.details.get("deployments") or []:
            model_info = dict(definition.get("model_info") or {})
            if str(model_info.get("id")) in present:
                continue  # Put back by an earlier attempt.
            params = dict(definition.get("litellm_params") or {})
            if endpoint in self.api_key_env:
                # A reference the proxy resolves from its own environment, not the key.
                params["api_key"] = f"os.environ/{self.api_key_env[endpoint]}"
            self.api.request(
                "POST",
                "/model/new",
                what=f"add deployment {model_info.get('id')} of {endpoint}",
                json={"model_name": endpoint, "litellm_params": params, "model_info": model_info},
            )
        return self.state(endpoint)
