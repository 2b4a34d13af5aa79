"""A small client of the MLflow REST API (2.0): the registry calls rollback and inventory sync
make, and the artifact proxy to hash a version's files.

Plain HTTP rather than the `mlflow` package: the worker then needs no ML dependencies, and the
same code talks to open-source MLflow, a managed MLflow or Databricks (only the base URL and
the credentials differ). Errors are classified for the activities: network failures, 429
and 5xx are retryable; 4xx (no such model, access denied, a bad parameter) are not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlparse

import httpx

from integrations.digest import ArtifactCheck, artifact_digest, frame_member
from integrations.models.base import ModelNotFound, ModelProviderError

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
_CHUNK = 1024 * 1024
# Pages of search results; MLflow caps registered-model searches at 1,000 per page.
PAGE_SIZE = 200


@dataclass(frozen=True)
class MlflowAuth:
    token: str | None = None
    username: str | None = None
    password: str | None = None


class MlflowError(ModelProviderError):
    """A failed MLflow call; the message holds the operation, status and MLflow error code
    only, never a credential."""


def _error(operation: str, response: httpx.Response, what: str) -> ModelProviderError:
    code = "UNKNOWN"
    try:
        body = response.json()
        if isinstance(body, dict):
            code = str(body.get("error_code") or code)
    except ValueError:
        pass
    status = response.status_code
    label = f"mlflow {operation} {what}: HTTP {status} {code}"
    if status == 404 or code == "RESOURCE_DOES_NOT_EXIST":
        return ModelNotFound(label)
    if status in (401, 403) or code in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
        return MlflowError(f"{label} (access denied)", retryable=False)
    retryable = status == 429 or status >= 500
    return MlflowError(label, retryable=retryable)


class MlflowClient:
    """Blocking; one `httpx.Client` (connection pool) per provider, safe across threads."""

    def __init__(
        self, tracking_uri: str, *, auth: MlflowAuth | None = None, timeout: float = 30.0
    ) -> None:
        self.base_url = tracking_uri.rstrip("/")
        auth = auth or MlflowAuth()
        headers = {"Authorization": f"Bearer {auth.token}"} if auth.token else {}
        basic = (auth.username, auth.password or "") if auth.username else None
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, auth=basic, timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _send(
        self, method: str, path: str, what: str, *, params: Any = None, json: Any = None
    ) -> dict[str, Any]:
        operation = path.rsplit("/mlflow/", 1)[-1]
        try:
            response = self._http.request(method, path, params=params, json=json)
        except httpx.HTTPError as exc:
            raise MlflowError(f"mlflow {operation} {what}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise _error(operation, response, what)
        if not response.content:
            return {}
        body: dict[str, Any] = response.json()
        return body

    def _pages(self, path: str, key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page_params = {**params, "max_results": PAGE_SIZE}
            if token:
                page_params["page_token"] = token
            body = self._send("GET", path, "search", params=page_params)
            yield from body.get(key, [])
            token = body.get("next_page_token")
            if not token:
                return

    # -- registry ---------------------------------------------------------------------------

    def registered_models(self, name_prefix: str = "") -> Iterator[dict[str, Any]]:
        params = {}
        if name_prefix:
            # LIKE's wildcards in the prefix only widen the search; callers match exactly.
            params["filter"] = "name LIKE '{}%'".format(name_prefix.replace("'", "''"))
        return self._pages(f"{API}/registered-models/search", "registered_models", params)

    def registered_model(self, name: str) -> dict[str, Any]:
        body = self._send("GET", f"{API}/registered-models/get", name, params={"name": name})
        model: dict[str, Any] = body.get("registered_model", {})
        return model

    def model_versions(self, name: str) -> Iterator[dict[str, Any]]:
        # Single quotes inside a name are doubled, as MLflow's filter grammar expects.
        escaped = name.replace("'", "''")
        return self._pages(
            f"{API}/model-versions/search", "model_versions", {"filter": f"name='{escaped}'"}
        )

    def version_by_alias(self, name: str, alias: str) -> dict[str, Any] | None:
        """The version `alias` points at, None when the alias is unset. Read from the model
        (MLflow answers a missing alias with the same 400 as a malformed request)."""
        model = self.registered_model(name)
        for entry in model.get("aliases", []):
            if entry.get("alias") == alias:
                version = str(entry["version"])
                body = self._send(
                    "GET",
                    f"{API}/model-versions/get",
                    f"{name}/{version}",
                    params={"name": name, "version": version},
                )
                found: dict[str, Any] = body.get("model_version", {"version": version})
                return found
        return None

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._send(
            "POST",
            f"{API}/registered-models/alias",
            f"{name}@{alias}",
            json={"name": name, "alias": alias, "version": version},
        )

    def delete_alias(self, name: str, alias: str) -> None:
        self._send(
            "DELETE",
            f"{API}/registered-models/alias",
            f"{name}@{alias}",
            json={"name": name, "alias": alias},
        )

    def download_uri(self, name: str, version: str) -> str:
        body = self._send(
            "GET",
            f"{API}/model-versions/get-download-uri",
            f"{name}/{version}",
            params={"name": name, "version": version},
        )
        return str(body.get("artifact_uri", ""))

    def run_artifact_uri(self, run_id: str) -> str:
        body = self._send("GET", f"{API}/runs/get", f"run {run_id}", params={"run_id": run_id})
        return str(body.get("run", {}).get("info", {}).get("artifact_uri", ""))

    # -- artifacts --------------------------------------------------------------------------

    def version_digest(
        self, name: str, version: str, *, s3_endpoint_url: str | None = None
    ) -> str | None:
        """The digest of the version's artifacts, as `integrations.digest` computes
        it for a directory (so a model folder digests the same here, on disk and in S3)."""
        return self.uri_digest(self.download_uri(name, version), s3_endpoint_url=s3_endpoint_url)

    def uri_digest(self, uri: str, *, s3_endpoint_url: str | None = None) -> str | None:
        if uri.startswith("runs:/"):
            run_id, _, sub = uri[len("runs:/") :].partition("/")
            base = self.run_artifact_uri(run_id).rstrip("/")
            uri = f"{base}/{sub}" if sub else base
        if uri.startswith("mlflow-artifacts:"):
            return self._proxied_digest(urlparse(uri).path.lstrip("/"))
        check = artifact_digest(uri, s3_endpoint_url=s3_endpoint_url)
        return check.digest

    def _listing(self, path: str) -> list[tuple[str, int]]:
        """(relative path, size) of every file below `path` through the artifact proxy."""
        found: list[tuple[str, int]] = []
        pending = [""]
        while pending:
            relative = pending.pop()
            full = f"{path}/{relative}" if relative else path
            body = self._send("GET", ARTIFACTS, f"artifacts {full}", params={"path": full})
            for entry in body.get("files", []):
                child = f"{relative}/{entry['path'].rsplit('/', 1)[-1]}".lstrip("/")
                if entry.get("is_dir"):
                    pending.append(child)
                else:
                    found.append((child, int(entry.get("file_size") or 0)))
        return sorted(found)

    def _stream_into(self, hasher: Any, path: str, *, framed_as: str | None) -> None:
        url = f"{ARTIFACTS}/{quote(path)}"
        try:
            with self._http.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error("artifacts", response, path)
                if framed_as is not None:
                    size = response.headers.get("content-length")
                    if size is None:
                        # Without a length the member cannot be framed before its bytes.
                        body = response.read()
                        frame_member(hasher, framed_as, len(body))
                        hasher.update(body)
                        return
                    frame_member(hasher, framed_as, int(size))
                for chunk in response.iter_bytes(_CHUNK):
                    hasher.update(chunk)
        except httpx.HTTPError as exc:
            raise MlflowError(f"mlflow artifacts {path}: {type(exc).__name__}") from None

    def _proxied_digest(self, path: str) -> str | None:
        hasher = hashlib.sha256()
        members = self._listing(path)
        if not members:
            # A single file, or nothing at all.
            try:
                self._stream_into(hasher, path, framed_as=None)
            except ModelNotFound:
                return None
            return f"sha256:{hasher.hexdigest()}"
        for relative, _size in members:
            self._stream_into(hasher, f"{path}/{relative}", framed_as=relative)
        return f"sha256:{hasher.hexdigest()}"


def parse_models_uri(uri: str) -> tuple[str, str | None, str | None]:
    """`models:/name/version` → (name, version, None); `models:/name@alias` → (name, None,
    alias). Raises ValueError for anything else."""
    rest = uri.removeprefix("models:/")
    if rest == uri or not rest:
        raise ValueError(f"{uri!r} is not models:/<name>/<version> or models:/<name>@<alias>")
    if "@" in rest:
        name, _, alias = rest.rpartition("@")
        if name and alias and "/" not in alias:
            return name, None, alias
    else:
        name, _, version = rest.rpartition("/")
        if name and version:
            return name, version, None
    raise ValueError(f"{uri!r} is not models:/<name>/<version> or models:/<name>@<alias>")


def registry_artifact_check(client: MlflowClient, uri: str) -> ArtifactCheck:
    """The digest of the artifacts a `models:/` URI names, resolved through the registry (an
    alias to its version, the version to where its files are now)."""
    try:
        name, version, alias = parse_models_uri(uri)
    except ValueError as exc:
        return ArtifactCheck("unchecked", reason=str(exc))
    try:
        if alias is not None:
            found = client.version_by_alias(name, alias)
            if found is None:
                return ArtifactCheck("missing", reason=f"alias {alias} points at no version")
            version = str(found["version"])
        assert version is not None
        digest = client.version_digest(name, version)
    except ModelNotFound as exc:
        return ArtifactCheck("missing", reason=str(exc))
    except ModelProviderError as exc:
        return ArtifactCheck("unchecked", reason=str(exc))
    if digest is None:
        return ArtifactCheck("missing", reason="no artifacts where the registry points")
    return ArtifactCheck("hashed", digest=digest)
