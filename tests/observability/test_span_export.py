"""Spans leave a process masked like log lines, over OTLP/HTTP to the configured receiver."""

from __future__ import annotations

import json
import secrets

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from smokejumper.config import load_settings
from smokejumper.logs import MASK, RedactingFilter
from smokejumper.observability.span_redaction import RedactingSpanExporter
from smokejumper.observability.tracing import (
    configure_tracing,
    provider_call,
    tracing_interceptors,
)
from tests.observability.otlp_receiver import OtlpReceiver

CONFIGURED = "configured-" + "Wq8rT5yU2iO9"
AWS_KEY = "AKIA" + "QWERTYUIOPASDFGH"


def test_every_text_a_span_carries_is_masked() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(RedactingSpanExporter(memory, RedactingFilter([CONFIGURED])))
    )
    tracer = provider.get_tracer("test")
    with (
        pytest.raises(RuntimeError),
        tracer.start_as_current_span(f"revoke {CONFIGURED}") as span,
    ):
        span.set_attribute("note", f"key {AWS_KEY} of u-1")
        span.set_attribute("keys", [CONFIGURED, "key-support-web"])
        span.set_attribute("attempt", 3)
        span.add_event("retrying", {"reason": f"refused {CONFIGURED}"})
        raise RuntimeError(f"provider refused to revoke {AWS_KEY}")

    (exported,) = memory.get_finished_spans()
    assert exported.name == f"revoke {MASK}"
    assert exported.attributes == {
        "note": f"key {MASK} of u-1",
        "keys": (MASK, "key-support-web"),
        "attempt": 3,
    }
    retrying, failure = exported.events
    assert retrying.attributes == {"reason": f"refused {MASK}"}
    assert failure.name == "exception"
    assert failure.attributes is not None
    assert failure.attributes["exception.message"] == f"provider refused to revoke {MASK}"
    assert AWS_KEY not in str(failure.attributes["exception.stacktrace"])
    assert exported.status.status_code is StatusCode.ERROR
    assert exported.status.description == f"RuntimeError: provider refused to revoke {MASK}"
    # The trace itself is untouched.
    assert exported.context == span.get_span_context()


async def test_a_failed_provider_call_reaches_the_otlp_receiver(
    otlp_receiver: OtlpReceiver,
) -> None:
    settings = load_settings(None, observability={"otlp_endpoint": otlp_receiver.url})
    provider = configure_tracing(settings, "api")
    assert provider is not None
    assert len(tracing_interceptors(settings)) == 1
    leaked = "sk-proj-" + secrets.token_urlsafe(32)
    with pytest.raises(RuntimeError), provider_call("revoke_key", "openai", incident_id=7) as span:
        raise RuntimeError(f"401 for {leaked}")
    provider.force_flush()
    trace_id = f"{span.get_span_context().trace_id:032x}"

    (received,) = await otlp_receiver.wait_for({"revoke_key openai"}, trace_id)
    assert received.kind == "SPAN_KIND_CLIENT"
    assert received.attributes == {
        "smokejumper.action": "revoke_key",
        "smokejumper.provider": "openai",
        "smokejumper.incident_id": "7",
    }
    assert received.raw["status"]["code"] == "STATUS_CODE_ERROR"
    assert f"401 for {MASK}" in json.dumps(received.raw)
    assert leaked not in json.dumps(received.raw)
    assert received.resource["service.name"] == "smokejumper"


def test_tracing_is_off_unless_an_endpoint_is_set() -> None:
    settings = load_settings(None)
    assert configure_tracing(settings, "worker") is None
    assert tracing_interceptors(settings) == []
