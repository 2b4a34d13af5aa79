"""The MCP server's way to the engine: the REST API, with the caller's own API token.

Every call names the surface (`X-Smokejumper-Via: mcp`), so the API records the writes as
made through MCP and refuses approvals sent this way. The server holds no credential of
its own: whatever a tool may do is what the token's user may do through the API.
"""

from __future__ import annotations

from typing import Any

import httpx

from smokejumper.api.auth import VIA_HEADER

SURFACE = "mcp"
_TIMEOUT = httpx.Timeout(30.0)
# A dry run starts a test server and plays the playbook through: minutes at worst.
LONG_TIMEOUT = httpx.Timeout(180.0)


class ApiRefused(Exception):
    """The API answered with an error, or could not be reached; the message says which,
    in words an assistant can relay."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RestApi:
    """Calls to one engine's API as the holder of `token`."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token

    async def request(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (200,),
        timeout: httpx.Timeout = _TIMEOUT,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {self._token}", VIA_HEADER: SURFACE}
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=timeout) as client:
                response = await client.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise ApiRefused(
                f"the smokejumper API at {self.base_url} did not answer in time "
                f"({timeout.read:.0f} s)"
            ) from None
        except httpx.TransportError as exc:
            raise ApiRefused(
                f"cannot reach the smokejumper API at {self.base_url} ({type(exc).__name__})"
            ) from None
        if response.status_code not in ok:
            raise ApiRefused(refusal_message(response), response.status_code)
        return response

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, path, **kwargs)).json()


def refusal_message(response: httpx.Response) -> str:
    """The API's reason, field by field for a validation error, prefixed by its status."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        fields = []
        for problem in detail:
            if isinstance(problem, dict):
                where = [str(part) for part in problem.get("loc", [])]
                if where[:1] in (["query"], ["body"], ["path"]):
                    where = where[1:]
                fields.append(f"{'.'.join(where) or '(request)'}: {problem.get('msg', '')}")
        reason = "invalid request: " + "; ".join(fields)
    elif isinstance(detail, str):
        reason = detail
    elif isinstance(body, dict) and isinstance(body.get("error"), str):
        reason = body["error"]
    else:
        reason = response.reason_phrase or "error"
    if status == 401:
        reason = f"the API did not accept this API token ({reason})"
    return f"HTTP {status}: {reason}"
