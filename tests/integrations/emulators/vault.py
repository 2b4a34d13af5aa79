"""Vault's token-accessor and lease-prefix endpoints:

    POST /v1/auth/token/lookup-accessor     {"accessor"} -> {"data": {...}}
    POST /v1/auth/token/revoke-accessor     {"accessor"} -> 204
    GET  /v1/sys/leases/lookup/<prefix>/?list=true       -> {"data": {"keys": [...]}}, 404 if none
    PUT  /v1/sys/leases/revoke-prefix/<prefix>/          -> 204

Authenticated by `X-Vault-Token`; errors as `{"errors": [...]}`, with 400 "invalid
accessor" for an accessor Vault does not know and 403 "permission denied" for a bad token.
"""

from __future__ import annotations

import secrets
from typing import Any

from tests.integrations.emulators.base import Answer, Emulator, Request


class Vault(Emulator):
    def __init__(self, root_token: str) -> None:
        super().__init__()
        self.root_token = root_token
        self.tokens: dict[str, dict[str, Any]] = {}
        self.leases: set[str] = set()
        self.route("POST", "/v1/auth/token/lookup-accessor", self._lookup)
        self.route("POST", "/v1/auth/token/revoke-accessor", self._revoke)
        self.route("GET", "/v1/sys/leases/lookup/(?P<prefix>.+)", self._list_leases)
        self.route("PUT", "/v1/sys/leases/revoke-prefix/(?P<prefix>.+)", self._revoke_prefix)

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("X-Vault-Token") == self.root_token)

    def error(self, status: int, message: str) -> Answer:
        if status == 401:
            return 403, {"errors": ["permission denied"]}
        return status, {"errors": [message]}

    def create_token(self, policies: list[str]) -> str:
        accessor = secrets.token_urlsafe(18)
        with self._lock:
            self.tokens[accessor] = {
                "accessor": accessor,
                "display_name": "token-app",
                "policies": policies,
                "expire_time": None,
                "entity_id": "",
                "orphan": False,
                "path": "auth/token/create",
            }
        return accessor

    def create_lease(self, prefix: str) -> str:
        lease = f"{prefix.strip('/')}/{secrets.token_hex(8)}"
        with self._lock:
            self.leases.add(lease)
        return lease

    def _accessor(self, request: Request) -> str:
        return str((request.body or {}).get("accessor", ""))

    def _lookup(self, request: Request) -> Answer:
        record = self.tokens.get(self._accessor(request))
        if record is None:
            return self.error(400, "invalid accessor")
        return 200, {"data": record}

    def _revoke(self, request: Request) -> Answer:
        if self.tokens.pop(self._accessor(request), None) is None:
            return self.error(400, "invalid accessor")
        return 204, None

    def _under(self, prefix: str) -> list[str]:
        prefix = prefix.rstrip("/") + "/"
        return sorted(lease for lease in self.leases if lease.startswith(prefix))

    def _list_leases(self, request: Request) -> Answer:
        if request.query.get("list") != "true":
            return self.error(405, "unsupported operation")
        prefix = request.match["prefix"].rstrip("/") + "/"
        children = sorted({lease[len(prefix) :].split("/")[0] for lease in self._under(prefix)})
        if not children:
            return 404, {"errors": []}
        return 200, {"data": {"keys": children}}

    def _revoke_prefix(self, request: Request) -> Answer:
        for lease in self._under(request.match["prefix"]):
            self.leases.discard(lease)
        return 204, None
