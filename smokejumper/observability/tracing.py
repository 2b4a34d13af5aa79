"""OpenTelemetry traces: one trace from the HTTP alert through intake, the workflow start,
the workflow and each activity to the provider calls, exported over OTLP/HTTP.

The API and the worker each install a tracer provider when `observability.otlp_endpoint`
is set. FastAPI makes the request's spans on it (continuing a sender's `traceparent`);
Temporal's tracing interceptor carries the context in workflow and activity headers, so
the worker's spans join the trace the API's request began; `provider_call` wraps each
containment or undo call to a provider.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from smokejumper import __version__
from smokejumper.config import Settings
from smokejumper.logs import RedactingFilter
from smokejumper.observability.span_redaction import RedactingSpanExporter

PROCESS_ATTRIBUTE = "smokejumper.process"
# A proxy until a provider is installed; spans made before then (or without one) are no-ops.
tracer = trace.get_tracer("smokejumper", __version__)
_installed: TracerProvider | None = None


def configure_tracing(settings: Settings, process: str) -> TracerProvider | None:
    """Install this process's tracer provider, exporting to `otlp_endpoint` with configured
    secrets masked; None when tracing is off. OpenTelemetry allows one provider a
    process, so the first call's settings hold for the process."""
    global _installed
    endpoint = settings.observability.otlp_endpoint
    if endpoint is None:
        return None
    if _installed is None:
        resource = Resource.create(
            {
                SERVICE_NAME: settings.observability.service_name,
                SERVICE_VERSION: __version__,
                PROCESS_ATTRIBUTE: process,
            }
        )
        provider = TracerProvider(resource=resource)
        exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=5)
        redactor = RedactingFilter(settings.secret_values())
        provider.add_span_processor(BatchSpanProcessor(RedactingSpanExporter(exporter, redactor)))
        trace.set_tracer_provider(provider)
        _installed = provider
    return _installed


def tracing_interceptors(settings: Settings) -> Sequence[Interceptor]:
    """What a Temporal client is connected with so its workflow starts, workflows and
    activities (and its workers') join the caller's trace."""
    if not settings.observability.tracing:
        return []
    return [TracingInterceptor()]


# Polled every few seconds by probes and Prometheus: spans of them would bury the alerts'.
UNTRACED_PATHS = frozenset({"/healthz", "/metrics"})


def untraced_request(scope: MutableMapping[str, Any]) -> bool:
    """For FastAPI's own request spans: the probes' and scrapers' requests make none."""
    return scope.get("path") in UNTRACED_PATHS


@contextmanager
def provider_call(action: str, provider: str, **attributes: str | int | None) -> Iterator[Span]:
    """A CLIENT span around one call to a provider (a key revoked, an endpoint isolated).
    Attributes name the action, the provider and `attributes` (None ones left out), never
    the target's secret material."""
    with tracer.start_as_current_span(
        f"{action} {provider}",
        kind=SpanKind.CLIENT,
        attributes={
            "smokejumper.action": action,
            "smokejumper.provider": provider,
            **{
                f"smokejumper.{key}": value
                for key, value in attributes.items()
                if value is not None
            },
        },
    ) as span:
        yield span
