"""What an operator watches a running engine with, beyond `GET /metrics`: the Temporal
SDK's own metrics, OpenTelemetry traces from an HTTP alert to each provider call, and the
redaction that keeps secrets out of exported spans."""
