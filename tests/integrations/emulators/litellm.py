"""A LiteLLM proxy's management endpoints:

    GET  /key/info?key=<token hash>      {"key": ..., "info": {..., "blocked": bool|null}}
    POST /key/block   {"key": <hash>}    the key's row, blocked
    POST /key/unblock {"key": <hash>}    the key's row, unblocked
    GET  /model/info                     {"data": [deployment, ...]}, credentials removed
    POST /model/delete {"id": <model id>}
    POST /model/new   {"model_name", "litellm_params", "model_info"}

Authenticated by the master key as a bearer token; unknown keys and models answer 404 with
`{"detail": ...}` as the proxy's FastAPI handlers do.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import uuid
from typing import Any

from tests.integrations.emulators.base import Answer, Emulator, Request

# What the proxy's /model/info drops from litellm_params before answering.
_NEVER_RETURNED = (
    "api_key",
    "client_secret",
    "vertex_credentials",
    "aws_access_key_id",
    "aws_secret_access_key",
)


class LiteLLMProxy(Emulator):
    def __init__(self, master_key: str) -> None:
        super().__init__()
        self.master_key = master_key
        self.keys: dict[str, dict[str, Any]] = {}
        self.models: list[dict[str, Any]] = []
        self.route("GET", "/key/info", self._info)
        self.route("POST", "/key/block", lambda r: self._set_blocked(r, True))
        self.route("POST", "/key/unblock", lambda r: self._set_blocked(r, False))
        self.route("GET", "/model/info", self._model_info)
        self.route("POST", "/model/delete", self._model_delete)
        self.route("POST", "/model/new", self._model_new)

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("Authorization") == f"Bearer {self.master_key}")

    def error(self, status: int, message: str) -> Answer:
        return status, {"detail": {"error": message}}

    # -- keys -----------------------------------------------------------------------------

    def create_key(self, alias: str = "app") -> tuple[str, str]:
        """A new virtual key: (its token hash, the sk-... key)."""
        value = f"sk-{secrets.token_urlsafe(16)}"
        token = hashlib.sha256(value.encode()).hexdigest()
        with self._lock:
            self.keys[token] = {
                "token": token,
                "key_alias": alias,
                "key_name": f"sk-...{value[-4:]}",
                "user_id": "user-1",
                "team_id": "team-1",
                "expires": None,
                "blocked": None,
            }
        return token, value

    def blocked(self, token: str) -> bool:
        return bool(self.keys[token]["blocked"])

    def _info(self, request: Request) -> Answer:
        token = request.query.get("key", "")
        if token not in self.keys:
            return self.error(404, "Key not found in database")
        return 200, {"key": token, "info": self.keys[token]}

    def _set_blocked(self, request: Request, blocked: bool) -> Answer:
        token = (request.body or {}).get("key", "")
        if token not in self.keys:
            return self.error(404, "Key not found in database")
        self.keys[token]["blocked"] = blocked
        return 200, self.keys[token]

    # -- models ---------------------------------------------------------------------------

    def add_model(self, name: str, params: dict[str, Any], *, db_model: bool = True) -> str:
        model_id = str(uuid.uuid4())
        with self._lock:
            self.models.append(
                {
                    "model_name": name,
                    "litellm_params": dict(params),
                    "model_info": {"id": model_id, "db_model": db_model, "mode": "chat"},
                }
            )
        return model_id

    def deletes(self, model_id: str) -> int:
        """`/model/delete` requests naming `model_id`."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if r.path == "/model/delete" and (r.body or {}).get("id") == model_id
            )

    def deployments(self, name: str) -> list[dict[str, Any]]:
        return [m for m in self.models if m["model_name"] == name]

    def _model_info(self, request: Request) -> Answer:
        shown = []
        for model in self.models:
            model = copy.deepcopy(model)
            for name in _NEVER_RETURNED:
                model["litellm_params"].pop(name, None)
            shown.append(model)
        return 200, {"data": shown}

    def _model_delete(self, request: Request) -> Answer:
        model_id = (request.body or {}).get("id")
        for model in self.models:
            if model["model_info"]["id"] == model_id:
                if not model["model_info"].get("db_model"):
                    return self.error(400, "model is not in the database")
                self.models.remove(model)
                return 200, {"message": f"Model: {model_id} deleted successfully"}
        return self.error(404, f"Model with id={model_id} not found in db")

    def _model_new(self, request: Request) -> Answer:
        body = request.body or {}
        info = dict(body.get("model_info") or {})
        info.setdefault("id", str(uuid.uuid4()))
        info["db_model"] = True
        model = {
            "model_name": body["model_name"],
            "litellm_params": dict(body["litellm_params"]),
            "model_info": info,
        }
        self.models.append(model)
        return 200, {"model_id": info["id"], "model_name": body["model_name"]}
