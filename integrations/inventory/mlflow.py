"""The MLflow Model Registry as an inventory source: registered models, their versions
(artifact location, status, aliases) and each version's artifact digest.

Needs read access to the registered models and their artifacts; it changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from integrations.models.base import ModelNotFound, ModelProviderError
from integrations.models.mlflow_client import MlflowClient
from smokejumper.inventory.sync import ListedKey, ListedModel, ListedVersion, SourceError

PROVIDER = "mlflow"
# MLflow's registration states, in the inventory's words; anything else is kept as it is.
_STATUS = {"READY": "active", "PENDING_REGISTRATION": "pending", "FAILED_REGISTRATION": "failed"}


class MlflowSource:
    name = PROVIDER

    def __init__(self, client: MlflowClient, *, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix

    def models(self) -> Iterator[ListedModel]:
        try:
            yield from self._models()
        except ModelProviderError as exc:
            raise SourceError(str(exc)) from None

    def _models(self) -> Iterator[ListedModel]:
        for model in self.client.registered_models(self.prefix):
            name = str(model["name"])
            if not name.startswith(self.prefix):
                continue
            aliases: dict[str, list[str]] = {}
            for entry in model.get("aliases", []):
                aliases.setdefault(str(entry["version"]), []).append(str(entry["alias"]))
            versions = tuple(
                ListedVersion(
                    version=str(v["version"]),
                    # Resolved through the registry by the model-integrity poller, so a
                    # version re-pointed at other files is still checked where it is now.
                    artifact_uri=f"models:/{name}/{v['version']}",
                    status=_STATUS.get(str(v.get("status")), str(v.get("status", "active"))),
                    aliases=tuple(sorted(aliases.get(str(v["version"]), []))),
                )
                for v in self.client.model_versions(name)
            )
            yield ListedModel(
                name=name,
                provider=PROVIDER,
                registry_ref=f"models:/{name}",
                description=model.get("description") or None,
                versions=versions,
            )

    def keys(self) -> Iterator[ListedKey]:
        return iter(())

    def digest(self, model: str, version: str) -> str | None:
        try:
            return self.client.version_digest(model, version)
        except ModelNotFound:
            return None
        except ModelProviderError as exc:
            raise SourceError(str(exc)) from None
