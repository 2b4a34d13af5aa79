"""The Temporal SDK's own metrics (task latencies, failures, slots), served for Prometheus
by the runtime a worker's client is connected with."""

from __future__ import annotations

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from smokejumper.config import ConfigError
from smokejumper.settings.observability import ObservabilitySettings

# The runtime owns the listening socket, so a process makes one per address.
_runtimes: dict[str, Runtime] = {}


def sdk_runtime(settings: ObservabilitySettings) -> Runtime | None:
    """The runtime serving `sdk_metrics_bind`, or None (the SDK's default runtime) when it
    is unset. Names follow Prometheus' conventions: counters end in `_total`, durations
    are in seconds and say so (`temporal_activity_execution_latency_seconds`)."""
    bind = settings.sdk_metrics_bind
    if bind is None:
        return None
    if bind not in _runtimes:
        metrics = PrometheusConfig(
            bind_address=bind,
            counters_total_suffix=True,
            unit_suffix=True,
            durations_as_seconds=True,
        )
        try:
            _runtimes[bind] = Runtime(telemetry=TelemetryConfig(metrics=metrics))
        except ValueError as exc:  # the address is taken, or not one to bind
            raise ConfigError(
                f"observability.sdk_metrics_bind: cannot serve SDK metrics on {bind}: {exc}"
            ) from None
    return _runtimes[bind]
