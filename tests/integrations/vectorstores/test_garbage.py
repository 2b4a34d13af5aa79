"""A server at the configured URL that is not Chroma, or answers nonsense: the provider
says so in its error, quoting no body, and moves nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from integrations.vectorstores.base import CollectionNotFound, VectorStoreError
from integrations.vectorstores.chroma import ChromaStore
from integrations.vectorstores.sweep import plan_sweep
from smokejumper.domain.retrieval import RetrievalSweep
from smokejumper.settings.vectorstores import VectorStoreSettings

SWEEP = RetrievalSweep(incident_id=1, application="bot", documents=["d-1"])


def serving(answer: Any) -> Iterator[str]:
    """An HTTP server answering every request with `answer(path)`: (status, body)."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            status, body = answer(self.path)
            data = body.encode()
            self.send_response(status)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _reply

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def html_server() -> Iterator[str]:
    yield from serving(lambda path: (200, "<html>secret-page-body</html>"))


@pytest.fixture
def lying_server() -> Iterator[str]:
    def answer(path: str) -> tuple[int, str]:
        if path.endswith("/get"):
            # Two ids, one document: lists that do not line up.
            return 200, json.dumps({"ids": ["a", "b"], "documents": ["x"], "metadatas": None})
        return 200, json.dumps({"id": "0b6a2c0e-9d6c-4c4e-8f0e-3b1c1d2e3f40", "name": "kb"})

    yield from serving(answer)


@pytest.fixture
def teapot_server() -> Iterator[str]:
    yield from serving(lambda path: (404, "no such page: internal-detail"))


def test_an_html_answer_is_not_json(html_server: str) -> None:
    config = VectorStoreSettings(url=html_server, collection="kb-1")
    with pytest.raises(VectorStoreError) as raised:
        plan_sweep(ChromaStore(html_server), config, SWEEP)
    assert "the answer is not JSON" in str(raised.value)
    assert "secret-page-body" not in str(raised.value)


def test_lists_that_do_not_line_up_are_refused(lying_server: str) -> None:
    config = VectorStoreSettings(url=lying_server, collection="kb-1")
    with pytest.raises(VectorStoreError, match="lists differ in length"):
        plan_sweep(ChromaStore(lying_server), config, SWEEP)


def test_a_server_that_is_not_chroma_finds_no_collection(teapot_server: str) -> None:
    config = VectorStoreSettings(url=teapot_server, collection="kb-1")
    with pytest.raises(CollectionNotFound) as raised:
        plan_sweep(ChromaStore(teapot_server), config, SWEEP)
    assert raised.value.retryable is False and "internal-detail" not in str(raised.value)
