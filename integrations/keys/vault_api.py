"""The Vault HTTP API as the Vault key providers use it."""

from __future__ import annotations

import httpx

from integrations.http_api import ErrorKinds, HttpApi
from integrations.keys.base import KeyNotFound, KeyProviderError


def vault_api(
    name: str, address: str, token: str, namespace: str | None, timeout_seconds: float
) -> HttpApi:
    headers = {"X-Vault-Token": token}
    if namespace:
        headers["X-Vault-Namespace"] = namespace
    return HttpApi(
        name,
        f"{address.rstrip('/')}/v1",
        headers,
        timeout_seconds,
        ErrorKinds(error=KeyProviderError, not_found=KeyNotFound),
    )


def invalid_accessor(response: httpx.Response) -> bool:
    """Vault answers 400 "invalid accessor" for an accessor it does not know, including
    one whose token was revoked."""
    if response.status_code != 400:
        return False
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return False
    return any("invalid accessor" in str(error) for error in errors)
