"""Spans leave the process with the same masking as log lines: a provider error quoting
the key it refused, recorded on a span as an exception event, is masked before export."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status
from opentelemetry.util.types import Attributes, AttributeValue

from smokejumper.logs import RedactingFilter


class RedactingSpanExporter(SpanExporter):
    """Passes each span to `exporter` with its name, attribute values, events and status
    description masked as `redactor` masks log lines."""

    def __init__(self, exporter: SpanExporter, redactor: RedactingFilter) -> None:
        self.exporter = exporter
        self.redactor = redactor

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export([self.redacted(span) for span in spans])

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def redacted(self, span: ReadableSpan) -> ReadableSpan:
        status = span.status
        if status.description:
            status = Status(status.status_code, self.redactor.redact(status.description))
        return ReadableSpan(
            name=self.redactor.redact(span.name),
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=self._attributes(span.attributes),
            events=[
                Event(
                    self.redactor.redact(event.name),
                    self._attributes(event.attributes),
                    event.timestamp,
                )
                for event in span.events
            ],
            links=span.links,
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def _attributes(self, attributes: Attributes) -> Attributes:
        if not attributes:
            return attributes
        return {key: self._value(value) for key, value in attributes.items()}

    def _value(self, value: AttributeValue) -> AttributeValue:
        if isinstance(value, str):
            return self.redactor.redact(value)
        if isinstance(value, Sequence) and value and isinstance(value[0], str):
            return tuple(self.redactor.redact(str(item)) for item in value)
        return value
