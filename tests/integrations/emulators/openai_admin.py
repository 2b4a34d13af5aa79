"""The OpenAI Admin API's project API key endpoints:

    GET    /v1/organization/projects/{project_id}/api_keys/{key_id}
    DELETE /v1/organization/projects/{project_id}/api_keys/{key_id}

Shapes as the official `openai` SDK types them (`ProjectAPIKey`, `APIKeyDeleteResponse`,
errors as `{"error": ErrorObject}`); tests/integrations/keys/test_openai_types.py checks every
answer against those types, so the emulator cannot drift from the API.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from tests.integrations.emulators.base import Answer, Emulator, Request

_KEY = r"/v1/organization/projects/(?P<project>[^/]+)/api_keys/(?P<key>[^/]+)"


class OpenAIAdmin(Emulator):
    def __init__(self, admin_key: str) -> None:
        super().__init__()
        self.admin_key = admin_key
        self.keys: dict[tuple[str, str], dict[str, Any]] = {}
        self.route("GET", _KEY, self._get)
        self.route("DELETE", _KEY, self._delete)

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("Authorization") == f"Bearer {self.admin_key}")

    def error(self, status: int, message: str) -> Answer:
        return status, {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }

    def create_key(self, project: str, name: str = "app") -> tuple[str, str]:
        """A new service-account key: (`project/key_id` as the provider names it, secret)."""
        key_id = f"key_{secrets.token_hex(8)}"
        value = f"sk-proj-{secrets.token_hex(16)}"
        now = int(time.time())
        with self._lock:
            self.keys[(project, key_id)] = {
                "object": "organization.project.api_key",
                "redacted_value": f"{value[:8]}...{value[-4:]}",
                "name": name,
                "created_at": now,
                "last_used_at": None,
                "expires_at": None,
                "spend_limit": None,
                "id": key_id,
                "owner_project_access": "active",
                "owner": {
                    "type": "service_account",
                    "service_account": {
                        "id": "svc_1",
                        "name": name,
                        "role": "member",
                        "created_at": now,
                    },
                },
            }
        return f"{project}/{key_id}", value

    def exists(self, key: str) -> bool:
        project, _, key_id = key.partition("/")
        return (project, key_id) in self.keys

    def _get(self, request: Request) -> Answer:
        record = self.keys.get((request.match["project"], request.match["key"]))
        if record is None:
            return self.error(404, f"No such API key: {request.match['key']}")
        return 200, record

    def _delete(self, request: Request) -> Answer:
        key = (request.match["project"], request.match["key"])
        if key not in self.keys:
            return self.error(404, f"No such API key: {request.match['key']}")
        del self.keys[key]
        return 200, {
            "object": "organization.project.api_key.deleted",
            "id": request.match["key"],
            "deleted": True,
        }
