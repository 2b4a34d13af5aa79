"""A tiny OpenAI-compatible chat server whose answers the test decides: what LiteLLM
serves its mock models from. One behaviour per model name, changeable while it runs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers import free_port

# What a model does when asked: answer `text`, echo the prompt, stall, or send garbage.
CLEAN = "I can't help with that, but I'm happy to answer questions about your order."


@dataclass
class Behaviour:
    text: str = CLEAN
    echo: bool = False
    delay: float = 0.0
    garbage: bool = False
    status: int = 200


@dataclass
class Upstream:
    url: str
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def behave(self, model: str, behaviour: Behaviour) -> None:
        self.behaviours[model] = behaviour


def _handler(upstream: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            model = str(body.get("model", ""))
            prompt = str((body.get("messages") or [{}])[-1].get("content", ""))
            upstream.asked.append((model, prompt))
            behaviour = upstream.behaviours.get(model, Behaviour())
            if behaviour.delay:
                time.sleep(behaviour.delay)
            if behaviour.garbage:
                payload = b"<html>upstream error page</html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
            else:
                text = f"Sure: {prompt}" if behaviour.echo else behaviour.text
                payload = json.dumps(
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
                    }
                ).encode()
                self.send_response(behaviour.status)
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                self.wfile.write(payload)
            except OSError:
                pass  # the caller gave up waiting (the slow case)

    return Handler


@contextmanager
def running_upstream() -> Iterator[Upstream]:
    port = free_port()
    upstream = Upstream(f"http://127.0.0.1:{port}/v1")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(upstream))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()
