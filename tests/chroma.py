"""A real Chroma server for the vector-store tests (`chroma run`, from the chromadb wheel
of the dev dependencies), an admin client that sets collections up over Chroma's HTTP API
(not through the provider under test), and a TCP proxy a test can cut to take the server
away mid-call.

Embeddings are always given by the tests: nothing here, or in Chroma's server, computes
one, so no embedding model is ever loaded.
"""

from __future__ import annotations

import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import free_port

BASE = "/api/v2/tenants/default_tenant/databases/default_database"
DIMENSIONS = 16


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a `chroma run` process (persisting to a temporary folder), stopped at
    the end of the session."""
    binary = Path(sys.executable).with_name("chroma")
    if not binary.is_file():
        pytest.fail(f"chroma is required at {binary}: pip install -e '.[dev]'", pytrace=False)
    root = tmp_path_factory.mktemp("chroma")
    log_path = root / "chroma.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(binary), "run", "--path", str(root / "data"), "--host", "127.0.0.1"]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"chroma run exited with {process.returncode}:\n{_log_tail(log_path)}",
                    pytrace=False,
                )
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"chroma run did not answer on {url}:\n{_log_tail(log_path)}", pytrace=False
                )
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- documents and embeddings ------------------------------------------------------------------


def direction(seed: int) -> list[float]:
    """A unit vector of its own for `seed`: unrelated seeds are far apart (cosine near 0)."""
    rng = random.Random(seed)
    raw = [rng.gauss(0, 1) for _ in range(DIMENSIONS)]
    norm = math.sqrt(sum(x * x for x in raw))
    return [x / norm for x in raw]


def near(base: Sequence[float], seed: int, noise: float = 0.05) -> list[float]:
    """`base` moved a little (cosine about 0.99 for the default noise)."""
    rng = random.Random(seed)
    return [x + rng.gauss(0, noise / math.sqrt(DIMENSIONS)) for x in base]


@dataclass(frozen=True)
class Doc:
    id: str
    text: str
    embedding: list[float]
    metadata: dict[str, Any]


class ChromaAdmin:
    """Collections of the test's own, set up and read over Chroma's HTTP API."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def close(self) -> None:
        self.http.close()

    def name(self, prefix: str = "kb") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def collection_id(self, name: str) -> str | None:
        response = self.http.get(f"{BASE}/collections/{name}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        found: str = response.json()["id"]
        return found

    def create(self, name: str, documents: Sequence[Doc], batch: int = 500) -> str:
        response = self.http.post(f"{BASE}/collections", json={"name": name})
        response.raise_for_status()
        collection_id: str = response.json()["id"]
        self.add(name, documents, batch, collection_id=collection_id)
        return collection_id

    def add(
        self,
        name: str,
        documents: Sequence[Doc],
        batch: int = 500,
        *,
        collection_id: str | None = None,
    ) -> None:
        collection_id = collection_id or self.collection_id(name)
        assert collection_id is not None, name
        for start in range(0, len(documents), batch):
            chunk = documents[start : start + batch]
            added = self.http.post(
                f"{BASE}/collections/{collection_id}/add",
                json={
                    "ids": [d.id for d in chunk],
                    "embeddings": [d.embedding for d in chunk],
                    "documents": [d.text for d in chunk],
                    "metadatas": [d.metadata or None for d in chunk],
                },
            )
            assert added.status_code == 201, added.text

    def delete(self, name: str, ids: Sequence[str]) -> None:
        collection_id = self.collection_id(name)
        assert collection_id is not None, name
        response = self.http.post(f"{BASE}/collections/{collection_id}/delete", json={"ids": ids})
        response.raise_for_status()

    def get(self, name: str, **query: Any) -> dict[str, Any]:
        collection_id = self.collection_id(name)
        if collection_id is None:
            return {"ids": [], "metadatas": [], "documents": [], "embeddings": []}
        response = self.http.post(f"{BASE}/collections/{collection_id}/get", json=query)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def ids(self, name: str, **where: Any) -> set[str]:
        query: dict[str, Any] = {"include": []}
        if where:
            query["where"] = where
        return set(self.get(name, **query)["ids"])

    def count(self, name: str) -> int:
        collection_id = self.collection_id(name)
        if collection_id is None:
            return 0
        response = self.http.get(f"{BASE}/collections/{collection_id}/count")
        response.raise_for_status()
        return int(response.json())


@pytest.fixture
def chroma(chroma_server: str) -> Iterator[ChromaAdmin]:
    admin = ChromaAdmin(chroma_server)
    try:
        yield admin
    finally:
        admin.close()


# -- a server that goes away -------------------------------------------------------------------


class CuttableProxy:
    """Forwards TCP connections to `upstream` until `cut()`: then every open connection
    is closed and new ones are refused (accepted and closed at once), as a server that
    went down looks to its clients, until `mend()`."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.down = False
        self.requests = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.close()
                except OSError:
                    pass

    def cut(self) -> None:
        self.down = True
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for end in sockets:
            try:
                end.shutdown(socket.SHUT_RDWR)
                end.close()
            except OSError:
                pass

    def mend(self) -> None:
        self.down = False

    def close(self) -> None:
        self.cut()
        self.listener.close()
