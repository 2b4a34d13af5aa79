"""A real OpenID Connect provider for the single sign-on tests: `oidc-provider-mock` run
as its own process on a free port. Its authorize page signs in whatever subject is posted
to it, with the claims set beforehand through `PUT /users/<sub>`."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from tests.helpers import free_port


@contextmanager
def oidc_provider(log_dir: Path, port: int | None = None) -> Iterator[str]:
    """The issuer URL of a provider running until the block ends. It insists on a nonce,
    and issues ID tokens that live a minute."""
    port = port or free_port()
    issuer = f"http://127.0.0.1:{port}"
    log = log_dir / "oidc-provider.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oidc_provider_mock",
                "--port",
                str(port),
                "--require-nonce",
                "--token-max-age",
                "60",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"oidc-provider-mock did not start:\n{log.read_text(errors='replace')}"
                )
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def set_user(issuer: str, sub: str, **claims: Any) -> None:
    """The claims the provider will put in `sub`'s ID token."""
    async with httpx.AsyncClient() as client:
        answer = await client.put(f"{issuer}/users/{quote(sub, safe='')}", json=claims)
    assert answer.status_code == 204, answer.text


async def authorize(authorize_url: str, sub: str) -> str:
    """Submit the provider's authorize form as `sub`; the callback URL it sends back to."""
    async with httpx.AsyncClient() as client:
        page = await client.get(authorize_url)
        assert page.status_code == 200, page.text
        assert 'name="sub"' in page.text
        answer = await client.post(authorize_url, data={"sub": sub})
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["location"]
