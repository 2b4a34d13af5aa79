"""Model versions of the embedded control plane, in `models.json` beside the keys file.

Each model records its versions (with the artifact URI the digest is computed from) and its
aliases, the pins a gateway or serving layer reads to know which version to serve:

    {"models": {"support-llm": {"versions": {"1.1.0": {"artifact_uri": "s3://..."}},
                                "aliases": {"production": "1.1.0"}}}}
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.digest import artifact_digest
from integrations.local_state import LocalProvider
from integrations.models.base import ModelNotFound, ModelProviderError, ModelState

PROVIDER = "local"
SECTION = "models"


class LocalModels(LocalProvider):
    section = SECTION
    what = "local models"
    error = ModelProviderError
    restorable = True

    def __init__(self, path: Path, *, s3_endpoint_url: str | None = None) -> None:
        super().__init__(path)
        self.s3_endpoint_url = s3_endpoint_url

    def _model(self, models: dict[str, dict[str, Any]], model: str) -> dict[str, Any]:
        if model not in models:
            raise ModelNotFound(f"local: no model {model}")
        return models[model]

    def register(
        self, model: str, version: str, *, artifact_uri: str, aliases: tuple[str, ...] = ()
    ) -> None:
        """Record a version (what a deployment does), pointing `aliases` at it."""
        with self._file.locked():
            models = self._read()
            record = models.setdefault(model, {"versions": {}, "aliases": {}})
            record["versions"][version] = {"artifact_uri": artifact_uri}
            for alias in aliases:
                record["aliases"][alias] = version
            self._file.write(models)

    def state(self, model: str, alias: str) -> ModelState:
        record = self._model(self._read(), model)
        return self._state(model, alias, record)

    def _state(self, model: str, alias: str, record: dict[str, Any]) -> ModelState:
        version = record.get("aliases", {}).get(alias)
        details = dict(record.get("alias_changes", {}).get(alias, {}))
        return ModelState(
            model=model, alias=alias, provider=PROVIDER, version=version, details=details
        )

    def versions(self, model: str) -> list[str]:
        return list(self._model(self._read(), model).get("versions", {}))

    def digest(self, model: str, version: str) -> str | None:
        record = self._model(self._read(), model)
        uri = record.get("versions", {}).get(version, {}).get("artifact_uri")
        if not uri:
            return None
        return artifact_digest(str(uri), s3_endpoint_url=self.s3_endpoint_url).digest

    def set_alias(self, model: str, alias: str, version: str | None) -> ModelState:
        with self._file.locked():
            models = self._read()
            record = self._model(models, model)
            aliases: dict[str, str] = record.setdefault("aliases", {})
            if version is None:
                aliases.pop(alias, None)
            else:
                if version not in record.get("versions", {}):
                    raise ModelNotFound(f"local: model {model} has no version {version}")
                aliases[alias] = version
            changes = record.setdefault("alias_changes", {})
            changes[alias] = {"changed_at": datetime.now(UTC).isoformat()}
            self._file.write(models)
            return self._state(model, alias, record)
