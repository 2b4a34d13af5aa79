"""`[observability]`: the worker's Temporal SDK metrics, OpenTelemetry traces, log format."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from smokejumper.settings.sections import Section


class ObservabilitySettings(Section):
    sdk_metrics_bind: str | None = Field(
        default=None,
        description="IP:port the worker serves the Temporal SDK's own Prometheus metrics "
        "on (workflow and activity task latencies, failures, slots). Unset: not served.",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="Base URL of an OTLP/HTTP receiver (an OpenTelemetry Collector, e.g. "
        "http://127.0.0.1:4318; spans go to its /v1/traces): the API and the worker send "
        "traces there, from the HTTP "
        "request through the workflow and its activities to each provider call. Unset: "
        "no traces.",
    )
    service_name: str = Field(
        default="smokejumper",
        min_length=1,
        max_length=100,
        description="service.name of the traces; each process adds its role "
        "(smokejumper.process: api or worker).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="json: one JSON object a line (time, level, logger, message, trace and "
        "span ids, exception), for a log pipeline.",
    )

    @field_validator("sdk_metrics_bind")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        try:
            ip_address(host.removeprefix("[").removesuffix("]"))
        except ValueError:
            host = ""
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(
                f"expected an IP address and port, e.g. 127.0.0.1:9464 or [::]:9464 (got {value!r})"
            ) from None
        return value

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http:// or https:// URL (got {value!r})")
        return value.rstrip("/")

    @property
    def tracing(self) -> bool:
        return self.otlp_endpoint is not None
