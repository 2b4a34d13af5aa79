"""A minimal OTLP/HTTP trace receiver: what an OpenTelemetry Collector listens with on
`POST /v1/traces`, decoding each request with the OTLP protobufs."""

from __future__ import annotations

import asyncio
import base64
import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    # Everything the span carried, as the receiver decoded it (events, status included).
    raw: dict[str, Any] = field(repr=False)


def _values(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for attribute in attributes:
        value = attribute.get("value", {})
        found[attribute["key"]] = next(iter(value.values()), None) if value else None
    return found


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.add(request)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, request: ExportTraceServiceRequest) -> None:
        decoded = MessageToDict(request)
        with self._lock:
            self.requests += 1
            for resource_spans in decoded.get("resourceSpans", []):
                resource = _values(resource_spans.get("resource", {}).get("attributes", []))
                for scope in resource_spans.get("scopeSpans", []):
                    for span in scope.get("spans", []):
                        self.spans.append(
                            ReceivedSpan(
                                name=span["name"],
                                # MessageToDict gives ids in base64; hex is what logs carry.
                                trace_id=_hex(span["traceId"]),
                                span_id=_hex(span["spanId"]),
                                parent_span_id=_hex(span.get("parentSpanId", "")),
                                kind=span.get("kind", ""),
                                attributes=_values(span.get("attributes", [])),
                                resource=resource,
                                raw=span,
                            )
                        )

    def in_trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    async def wait_for(
        self, names: set[str], trace_id: str, within: float = 30.0
    ) -> list[ReceivedSpan]:
        """The trace's spans once every one of `names` has arrived."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            spans = self.in_trace(trace_id)
            if names <= {span.name for span in spans}:
                return spans
            await asyncio.sleep(0.1)
        seen = sorted({span.name for span in self.in_trace(trace_id)})
        raise AssertionError(f"spans {sorted(names)} not all received in trace; got {seen}")

    def __enter__(self) -> OtlpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _hex(encoded: str) -> str:
    return base64.b64decode(encoded).hex() if encoded else ""
