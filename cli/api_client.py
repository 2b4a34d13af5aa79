"""The CLI talks to a running engine through its HTTP API."""

from __future__ import annotations

from typing import Any

import httpx
import typer

from cli.output import fail
from smokejumper.config import Settings
from smokejumper.security.operator import OperatorTokenMissing, operator_token

EXIT_UNREACHABLE = 3


class ApiClient:
    def __init__(self, settings: Settings) -> None:
        self.base = settings.api_url
        try:
            self.token = operator_token(settings)
        except OperatorTokenMissing as exc:
            raise fail(str(exc), 2) from None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        try:
            return httpx.request(
                method, f"{self.base}{path}", timeout=30, headers=headers, **kwargs
            )
        except httpx.TransportError as exc:
            raise fail(
                f"cannot reach the smokejumper API at {self.base} ({type(exc).__name__}); "
                "is `smokejumper up` (or `smokejumper api`) running?",
                EXIT_UNREACHABLE,
            ) from None


def json_of(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"error": response.text[:500]}


def call(settings: Settings, method: str, path: str, *, ok: int = 200, **kwargs: Any) -> Any:
    """Call the API; print the refusal and exit 1 unless it answers `ok`."""
    response = ApiClient(settings).request(method, path, **kwargs)
    data = json_of(response)
    if response.status_code != ok:
        print_rejection(response.status_code, data)
        raise typer.Exit(1)
    return data


def print_rejection(status: int, data: Any) -> None:
    if not isinstance(data, dict):
        typer.secho(f"error: API answered {status}", err=True, fg=typer.colors.RED)
        return
    detail = data.get("detail")
    # FastAPI's own validation errors: a list of {loc, msg}, shown like intake's fields.
    problems = detail if isinstance(detail, list) else []
    message = data.get("error") or (detail if not problems else "invalid request")
    typer.secho(
        f"error: {message or f'API answered {status}'} (HTTP {status})",
        err=True,
        fg=typer.colors.RED,
    )
    for item in data.get("fields", []):
        typer.echo(f"  {item['field']}: {item['message']}", err=True)
    for problem in problems:
        if isinstance(problem, dict):
            where = [str(part) for part in problem.get("loc", [])]
            field = ".".join(where[1:] if where[:1] in (["query"], ["body"], ["path"]) else where)
            typer.echo(f"  {field}: {problem.get('msg', '')}", err=True)
    if data.get("dead_letter_id"):
        typer.echo(f"  kept as dead letter {data['dead_letter_id']}", err=True)
