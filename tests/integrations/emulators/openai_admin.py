"""The OpenAI Admin API's project API key endpoints:

    GET    /v1/organization/projects/{project_id}/api_keys/{key_id}
    DELETE /v1/organization/projects/{project_id}/api_keys/{key_id}

Shapes as documented in the Admin API reference (`organization.project.api_key`,
`organization.project.api_key.deleted`); errors as `{"error": {"message", "type"}}`.
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
        return status, {"error": {"message": message, "type": "invalid_request_error"}}

    def create_key(self, project: str, name: str = "app") -> tuple[str, str]:
        """A new service-account key: (`project/key_id` as the provider names it, secret)."""
        key_id = f"key_{secrets.token_hex(8)}"
        value = f"sk-proj-{secrets.token_hex(16)}"
        with self._lock:
            self.keys[(project, key_id)] = {
                "object": "organization.project.api_key",
                "redacted_value": f"{value[:8]}...{value[-4:]}",
                "name": name,
                "created_at": int(time.time()),
                "last_used_at": None,
                "id": key_id,
                "owner": {
                    "type": "service_account",
                    "service_account": {"id": "svc_1", "name": name, "role": "member"},
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
