"""MLflow Prompt Registry (MLflow 3): prompts are registered models tagged
`mlflow.prompt.is_prompt`, each version's template in its `mlflow.prompt.text` tag;
applications load `prompts:/<name>@<alias>`. Rotating moves the alias; the leaked version
is tagged, never edited or deleted (versions are immutable, and the evidence).

Over MLflow's REST API (2.0), as the MLflow client itself talks to a tracking server, so
the worker needs no `mlflow` package. Needs, on the prompts playbooks may rotate: read
(the prompt, its aliases and versions) and edit (set aliases and version tags: MLflow's
EDIT permission).
"""

from __future__ import annotations

from typing import Any

from integrations.http_api import ErrorKinds, HttpApi
from integrations.prompts.base import PromptNotFound, PromptProviderError, PromptState

PROVIDER = "mlflow"
API = "/api/2.0/mlflow"
IS_PROMPT = "mlflow.prompt.is_prompt"
TEXT = "mlflow.prompt.text"
ERRORS = ErrorKinds(error=PromptProviderError, not_found=PromptNotFound)


def _tags(entries: Any) -> dict[str, str]:
    if not isinstance(entries, list):
        return {}
    return {
        str(e["key"]): str(e.get("value", ""))
        for e in entries
        if isinstance(e, dict) and "key" in e
    }


class MlflowPrompts:
    name = PROVIDER
    restorable = True

    def __init__(self, api: HttpApi) -> None:
        self.api = api

    def _prompt(self, prompt: str) -> dict[str, Any]:
        body = self.api.json(
            "GET", f"{API}/registered-models/get", what=f"prompt {prompt}", params={"name": prompt}
        )
        model = body.get("registered_model")
        if not isinstance(model, dict):
            raise PromptProviderError(f"mlflow prompt {prompt}: the answer names no model")
        if _tags(model.get("tags")).get(IS_PROMPT) != "true":
            # A registered model that is not a prompt is someone's model: never touched here.
            raise PromptProviderError(
                f"mlflow: {prompt} is a registered model, not a prompt", retryable=False
            )
        return model

    def _version(self, prompt: str, version: str) -> dict[str, Any]:
        body = self.api.json(
            "GET",
            f"{API}/model-versions/get",
            what=f"prompt {prompt} version {version}",
            params={"name": prompt, "version": version},
        )
        found = body.get("model_version")
        if not isinstance(found, dict):
            raise PromptNotFound(f"mlflow: prompt {prompt} has no version {version}")
        return found

    def state(self, prompt: str, alias: str) -> PromptState:
        model = self._prompt(prompt)
        version = None
        for entry in model.get("aliases") or []:
            if isinstance(entry, dict) and entry.get("alias") == alias:
                version = str(entry.get("version"))
        return PromptState(
            prompt=prompt,
            alias=alias,
            provider=PROVIDER,
            version=version,
            details={"last_updated_timestamp": model.get("last_updated_timestamp")},
        )

    def text(self, prompt: str, version: str) -> str:
        return _tags(self._version(prompt, version).get("tags")).get(TEXT, "")

    def tags(self, prompt: str, version: str) -> dict[str, str]:
        return _tags(self._version(prompt, version).get("tags"))

    def set_tag(self, prompt: str, version: str, key: str, value: str) -> None:
        self.api.request(
            "POST",
            f"{API}/model-versions/set-tag",
            what=f"tag prompt {prompt} version {version}",
            json={"name": prompt, "version": version, "key": key, "value": value},
        )

    def set_alias(self, prompt: str, alias: str, version: str) -> PromptState:
        self._prompt(prompt)
        self.api.request(
            "POST",
            f"{API}/registered-models/alias",
            what=f"alias {prompt}@{alias}",
            json={"name": prompt, "alias": alias, "version": version},
        )
        return self.state(prompt, alias)
