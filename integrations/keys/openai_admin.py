"""OpenAI project API keys, through the Admin API with the official `openai` SDK. Revoking
deletes the key, and a deleted key cannot be brought back, so this provider is not
restorable and restoring says a new key must be issued.

The Admin API can also narrow a key (`scopes`, a spend limit, an expiry) instead of deleting
it; this provider does not offer that as a containment, for the reasons in
docs/integrations.md (the key's scopes cannot be read back, so they could not be restored,
and no scope list means "no access").

The key is named `<project_id>/<key_id>` (`proj_abc/key_abc`): the Admin API addresses a key
within its project. Needs an Admin API key of the organization (`api.management.read` and
`api.management.write` scopes, or an unrestricted admin key).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import openai
from openai.types.admin.organization.projects.project_api_key import Owner

from integrations.keys.base import KeyNotFound, KeyProviderError, KeyState, gone
from smokejumper.domain.containment import KeyStatus

PROVIDER = "openai"
# Statuses a retry can fix besides the server's own trouble: throttling and conflicts.
_RETRYABLE = frozenset({408, 409, 425, 429})
T = TypeVar("T")


def split_key(key_id: str) -> tuple[str, str]:
    project, _, key = key_id.partition("/")
    if not project or not key or "/" in key:
        raise KeyProviderError(
            f"openai: key {key_id!r} must be written <project_id>/<key_id>, e.g. proj_abc/key_abc",
            retryable=False,
        )
    return project, key


def _owner(owner: Owner) -> dict[str, Any]:
    who = owner.service_account if owner.type == "service_account" else owner.user
    return {
        "owner_type": owner.type or "",
        "owner_id": who.id if who else None,
        "owner_name": who.name if who else None,
    }


def _call(what: str, call: Callable[[], T]) -> T:
    """Run one SDK call, classifying its failure the way containment needs it. Messages
    name the operation and the HTTP status only: never the SDK's message, which quotes the
    API's answer."""
    try:
        return call()
    except openai.APITimeoutError:
        raise KeyProviderError(f"openai {what}: timed out") from None
    except openai.APIConnectionError as exc:
        cause = type(exc.__cause__ or exc).__name__
        raise KeyProviderError(f"openai {what}: cannot reach the API ({cause})") from None
    except openai.APIStatusError as exc:
        status = exc.status_code
        if status == 404:
            raise KeyNotFound(f"openai {what}: not found (HTTP 404)") from None
        if status in (401, 403):
            raise KeyProviderError(
                f"openai {what}: the configured credential was refused (HTTP {status})",
                retryable=False,
            ) from None
        if status >= 500 or status in _RETRYABLE:
            raise KeyProviderError(f"openai {what}: HTTP {status}") from None
        raise KeyProviderError(
            f"openai {what}: rejected (HTTP {status})", retryable=False
        ) from None
    except openai.APIResponseValidationError:
        raise KeyProviderError(f"openai {what}: the answer is not what the API documents") from None


class OpenAIProjectKeys:
    name = PROVIDER
    restorable = False

    def __init__(self, base_url: str, admin_key: str, timeout_seconds: float = 10.0) -> None:
        # No retries in the SDK: the activity's retry policy owns retrying, and a retried
        # DELETE must go through its check that the key is not already gone.
        self.client = openai.OpenAI(
            admin_api_key=admin_key,
            base_url=base_url.rstrip("/"),
            timeout=timeout_seconds,
            max_retries=0,
        )
        self.keys = self.client.admin.organization.projects.api_keys

    def close(self) -> None:
        self.client.close()

    def state(self, key_id: str) -> KeyState:
        project, key = split_key(key_id)
        found = _call(f"look up {key_id}", lambda: self.keys.retrieve(key, project_id=project))
        # `redacted_value` shows part of the key: not recorded.
        details = {
            "project_id": project,
            "name": found.name,
            "created_at": found.created_at,
            "last_used_at": found.last_used_at,
            **_owner(found.owner),
        }
        return KeyState(key_id=key_id, provider=PROVIDER, status=KeyStatus.ACTIVE, details=details)

    def revoke(self, key_id: str) -> KeyState:
        project, key = split_key(key_id)
        deleted = _call(f"delete {key_id}", lambda: self.keys.delete(key, project_id=project))
        if deleted.deleted is not True:
            raise KeyProviderError(f"openai delete {key_id}: the API did not confirm deletion")
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
