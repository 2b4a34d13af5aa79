"""MLflow Model Registry: rolling back moves a serving alias (`@production`) to an earlier
version; restoring points it back at the version it had.

Needs, on the registered models playbooks may roll back: read (get the model, its aliases,
its versions and their download URIs, read the artifacts to hash them) and the right to
set and delete aliases (MLflow's EDIT / Databricks' "Can Manage" on the model).
"""

from __future__ import annotations

from integrations.models.base import ModelNotFound, ModelState
from integrations.models.mlflow_client import MlflowClient

PROVIDER = "mlflow"


class MlflowModels:
    name = PROVIDER
    restorable = True

    def __init__(self, client: MlflowClient, *, s3_endpoint_url: str | None = None) -> None:
        self.client = client
        self.s3_endpoint_url = s3_endpoint_url

    def state(self, model: str, alias: str) -> ModelState:
        version = self.client.version_by_alias(model, alias)
        details = {}
        if version is not None:
            details = {k: version[k] for k in ("source", "run_id", "status") if version.get(k)}
        return ModelState(
            model=model,
            alias=alias,
            provider=PROVIDER,
            version=None if version is None else str(version["version"]),
            details=details,
        )

    def versions(self, model: str) -> list[str]:
        found = [str(v["version"]) for v in self.client.model_versions(model)]
        if not found:
            # A model with no versions, or none at all: either way nothing to roll back to.
            self.client.registered_model(model)
        return found

    def digest(self, model: str, version: str) -> str | None:
        try:
            return self.client.version_digest(model, version, s3_endpoint_url=self.s3_endpoint_url)
        except ModelNotFound:
            return None

    def set_alias(self, model: str, alias: str, version: str | None) -> ModelState:
        if version is None:
            self.client.delete_alias(model, alias)
        else:
            self.client.set_alias(model, alias, version)
        return self.state(model, alias)
