"""Vault leases, by prefix: revoking calls `sys/leases/revoke-prefix/<prefix>`, which
revokes every lease under it (the dynamic secrets they stand for are destroyed). A revoked
lease cannot come back, so this provider is not restorable.

The key is the lease prefix, e.g. `database/creds/readonly/`. Listing and revoking by prefix
need `sudo` on the paths (see docs/integrations.md).
"""

from __future__ import annotations

import re

from integrations.keys.base import KeyNotFound, KeyProviderError, KeyState, gone
from integrations.keys.vault_api import vault_api
from smokejumper.domain.containment import KeyStatus

PROVIDER = "vault_lease"
# Enough lease ids for a responder to recognise; the count says how many there were.
_SHOWN = 20
# What mount paths, role names and lease ids are made of: nothing that would end the path
# (`?`, `#`), escape it (`%`) or step out of it (`..`, checked separately).
_PREFIX = re.compile(r"[A-Za-z0-9._\-/]{1,1024}")


class VaultLeases:
    name = PROVIDER
    restorable = False

    def __init__(
        self, address: str, token: str, namespace: str | None = None, timeout: float = 10.0
    ) -> None:
        self.api = vault_api(PROVIDER, address, token, namespace, timeout)

    @staticmethod
    def _prefix(key_id: str) -> str:
        prefix = key_id.strip("/")
        segments = prefix.split("/")
        if not _PREFIX.fullmatch(prefix) or ".." in segments or "" in segments:
            raise KeyProviderError(
                f"vault_lease: {key_id[:40]!r} is not a lease prefix (mount/path/role, e.g. "
                "database/creds/readonly)",
                retryable=False,
            )
        return prefix

    def state(self, key_id: str) -> KeyState:
        """`active` while leases live under the prefix; an empty prefix is not found (Vault
        answers 404 whether it never had leases or they were all revoked)."""
        body = self.api.json(
            "GET",
            f"/sys/leases/lookup/{self._prefix(key_id)}/",
            what=f"list leases under {key_id}",
            params={"list": "true"},
        )
        leases = [str(lease) for lease in (body.get("data") or {}).get("keys") or []]
        if not leases:
            raise KeyNotFound(f"vault_lease: no leases under {key_id}")
        return KeyState(
            key_id=key_id,
            provider=PROVIDER,
            status=KeyStatus.ACTIVE,
            details={"lease_count": len(leases), "leases": leases[:_SHOWN]},
        )

    def revoke(self, key_id: str) -> KeyState:
        # No trailing slash: Vault and OpenBao refuse a write to a path ending in '/', and
        # add the slash themselves, so `app` does not revoke the leases of `app2`.
        self.api.request(
            "PUT",
            f"/sys/leases/revoke-prefix/{self._prefix(key_id)}",
            what=f"revoke leases under {key_id}",
        )
        return KeyState(
            key_id=key_id, provider=PROVIDER, status=KeyStatus.INACTIVE, details={"revoked": True}
        )

    def verify_revoked(self, key_id: str) -> bool:
        return gone(lambda: self.state(key_id))

    def restore(self, key_id: str, before: KeyState) -> KeyState:
        raise KeyProviderError(
            f"vault_lease: the leases under {key_id} cannot be restored: Vault destroyed the "
            "secrets they stood for; the application must request new credentials",
            retryable=False,
        )
