"""Vault tokens, by accessor: revoking calls `auth/token/revoke-accessor`, which revokes the
token, its child tokens and their leases. Vault cannot un-revoke a token, so this provider
is not restorable. Named by accessor, so the token itself never passes through smokejumper.
"""

from __future__ import annotations

import re

from integrations.keys.base import KeyProviderError, KeyState, gone
from integrations.keys.vault_api import invalid_accessor, vault_api
from smokejumper.domain.containment import KeyStatus

PROVIDER = "vault_token"
_KEPT = ("display_name", "policies", "expire_time", "entity_id", "orphan", "path")
# Accessors are short base62 strings (with a `.<namespace id>` suffix in a namespace).
_ACCESSOR = re.compile(r"[A-Za-z0-9._-]{1,128}")


def _accessor(key_id: str) -> str:
    if not _ACCESSOR.fullmatch(key_id):
        raise KeyProviderError(
            f"vault_token: {key_id[:40]!r} is not a token accessor (letters, digits, '.', "
            "'_' and '-', as `vault token lookup` shows it)",
            retryable=False,
        )
    return key_id


class VaultTokens:
    name = PROVIDER
    restorable = False

    def __init__(
        self, address: str, token: str, namespace: str | None = None, timeout: float = 10.0
    ) -> None:
        self.api = vault_api(PROVIDER, address, token, namespace, timeout)

    def state(self, key_id: str) -> KeyState:
        body = self.api.json(
            "POST",
            "/auth/token/lookup-accessor",
            what=f"look up accessor {key_id}",
            json={"accessor": _accessor(key_id)},
            missing=invalid_accessor,
        )
        data = body.get("data") or {}
        return KeyState(
            key_id=key_id,
            provider=PROVIDER,
            status=KeyStatus.ACTIVE,
            details={name: data.get(name) for name in _KEPT},
        )

    def revoke(self, key_id: str) -> KeyState:
        self.api.request(
            "POST",
            "/auth/token/revoke-accessor",
            what=f"revoke accessor {key_id}",
            json={"accessor": _accessor(key_id)},
            missing=invalid_accessor,
        )
        return KeyState(
            key_id=key_id, provider=PROVIDER, status=KeyStatus.INACTIVE, details={"revoked": True}
        )

    def verify_revoked(self, key_id: str) -> bool:
        return gone(lambda: self.state(key_id))

    def restore(self, key_id: str, before: KeyState) -> KeyState:
        policies = before.details.get("policies") or []
        raise KeyProviderError(
            f"vault_token: the token of accessor {key_id} cannot be restored: Vault cannot "
            f"un-revoke a token; issue a new token (policies: {', '.join(policies) or 'none'})",
            retryable=False,
        )
