"""Virtual keys of a LiteLLM proxy: revoking blocks the key (`POST /key/block`), restoring
unblocks it (`POST /key/unblock`); `GET /key/info` reads whether it is blocked.

Keys are named by their token hash (the `token` field of `/key/list` and `/key/info`),
never by the `sk-...` key itself: the name is recorded in the actions table and logs.
"""

from __future__ import annotations

from integrations.http_api import ErrorKinds, HttpApi, bearer
from integrations.keys.base import KeyNotFound, KeyProviderError, KeyState
from smokejumper.domain.containment import KeyStatus

PROVIDER = "litellm"
_ERRORS = ErrorKinds(error=KeyProviderError, not_found=KeyNotFound)
_KEPT = ("key_alias", "user_id", "team_id", "expires", "blocked")


def _hash_only(key_id: str) -> str:
    if key_id.startswith("sk-"):
        # The value is deliberately not repeated: it is the key's secret.
        raise KeyProviderError(
            "litellm: name the virtual key by its token hash, not by the sk-... key itself",
            retryable=False,
        )
    return key_id


class LiteLLMKeys:
    name = PROVIDER
    restorable = True

    def __init__(self, base_url: str, admin_key: str, timeout_seconds: float = 10.0) -> None:
        self.api = HttpApi(PROVIDER, base_url, bearer(admin_key), timeout_seconds, _ERRORS)

    def state(self, key_id: str) -> KeyState:
        body = self.api.json(
            "GET", "/key/info", what=f"look up {key_id}", params={"key": _hash_only(key_id)}
        )
        info = body.get("info") or {}
        blocked = bool(info.get("blocked"))
        return KeyState(
            key_id=key_id,
            provider=PROVIDER,
            status=KeyStatus.INACTIVE if blocked else KeyStatus.ACTIVE,
            details={name: info.get(name) for name in _KEPT},
        )

    def _post(self, path: str, key_id: str, what: str) -> KeyState:
        self.api.request("POST", path, what=f"{what} {key_id}", json={"key": _hash_only(key_id)})
        return self.state(key_id)

    def revoke(self, key_id: str) -> KeyState:
        return self._post("/key/block", key_id, "block")

    def verify_revoked(self, key_id: str) -> bool:
        return self.state(key_id).status == KeyStatus.INACTIVE

    def restore(self, key_id: str, before: KeyState) -> KeyState:
        if before.status == KeyStatus.INACTIVE:
            # Blocked before the incident: it stays blocked.
            return self._post("/key/block", key_id, "block")
        return self._post("/key/unblock", key_id, "unblock")
