"""OpenAI project API keys, through the Admin API. Revoking deletes the key: OpenAI cannot
disable a project key, and a deleted key cannot be brought back, so this provider is not
restorable and restoring says a new key must be issued.

The key is named `<project_id>/<key_id>` (`proj_abc/key_abc`): the Admin API addresses a key
within its project. Needs an Admin API key of the organization (`api.management.read` and
`api.management.write` scopes, or an unrestricted admin key).
"""

from __future__ import annotations

from typing import Any

from integrations.http_api import ErrorKinds, HttpApi, bearer
from integrations.keys.base import KeyNotFound, KeyProviderError, KeyState, gone
from smokejumper.domain.containment import KeyStatus

PROVIDER = "openai"
_ERRORS = ErrorKinds(error=KeyProviderError, not_found=KeyNotFound)


def split_key(key_id: str) -> tuple[str, str]:
    project, _, key = key_id.partition("/")
    if not project or not key or "/" in key:
        raise KeyProviderError(
            f"openai: key {key_id!r} must be written <project_id>/<key_id>, e.g. proj_abc/key_abc",
            retryable=False,
        )
    return project, key


def _owner(body: dict[str, Any]) -> dict[str, Any]:
    owner = body.get("owner") or {}
    kind = str(owner.get("type", ""))
    who = owner.get(kind) or {}
    return {"owner_type": kind, "owner_id": who.get("id"), "owner_name": who.get("name")}


class OpenAIProjectKeys:
    name = PROVIDER
    restorable = False

    def __init__(self, base_url: str, admin_key: str, timeout_seconds: float = 10.0) -> None:
        self.api = HttpApi(PROVIDER, base_url, bearer(admin_key), timeout_seconds, _ERRORS)

    @staticmethod
    def _path(key_id: str) -> str:
        project, key = split_key(key_id)
        return f"/organization/projects/{project}/api_keys/{key}"

    def state(self, key_id: str) -> KeyState:
        body = self.api.json("GET", self._path(key_id), what=f"look up {key_id}")
        project, _ = split_key(key_id)
        # `redacted_value` shows part of the key: not recorded.
        details = {
            "project_id": project,
            "name": body.get("name"),
            "created_at": body.get("created_at"),
            "last_used_at": body.get("last_used_at"),
            **_owner(body),
        }
        return KeyState(key_id=key_id, provider=PROVIDER, status=KeyStatus.ACTIVE, details=details)

    def revoke(self, key_id: str) -> KeyState:
        body = self.api.json("DELETE", self._path(key_id), what=f"delete {key_id}")
        if body.get("deleted") is not True:
            raise KeyProviderError(f"openai delete {key_id}: the API did not confirm deletion")
        project, _ = split_key(key_id)
        return KeyState(
            key_id=key_id,
            provider=PROVIDER,
            status=KeyStatus.INACTIVE,
            details={"project_id": project, "deleted": True},
        )

    def verify_revoked(self, key_id: str) -> bool:
        return gone(lambda: self.state(key_id))

    def restore(self, key_id: str, before: KeyState) -> KeyState:
        project, _ = split_key(key_id)
        raise KeyProviderError(
            f"openai: {key_id} cannot be restored: revoking deleted it, and OpenAI cannot "
            f"bring a deleted key back; issue a new key in project {project} and give it to "
            "the application",
            retryable=False,
        )
