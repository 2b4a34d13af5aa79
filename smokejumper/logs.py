"""Logging with secret redaction: configured secrets never reach a log line."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from opentelemetry import trace

from smokejumper.masking import KEY_KINDS
from smokejumper.redaction import DEFAULT

# Credential shapes worth masking even when nobody told us the value.
_PATTERNS = [
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"),  # Slack tokens
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style keys
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids (long-lived, STS)
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
]
MASK = "[REDACTED]"
# And every key and token shape the redactor knows (provider keys, JWTs, private keys,
# high-entropy values after secret-like words), whatever the message: a provider's error
# quoting the key it refused is logged by code that never saw an alert.
_SECRET_KINDS = KEY_KINDS | {"private_key", "connection_string"}


def _mask_secret_shapes(text: str) -> str:
    findings = [f for f in DEFAULT.find(text) if f.kind in _SECRET_KINDS]
    for finding in reversed(findings):
        text = text[: finding.start] + MASK + text[finding.end :]
    return text


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(
                lambda m: (m.group(1) if m.re.groups else "") + MASK,
                text,
            )
        return _mask_secret_shapes(text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


class RedactingFormatter(logging.Formatter):
    """Masks tracebacks and stacks too: an exception's message (a provider error naming
    the key it failed on) is printed there, beyond the reach of the message filter."""

    def __init__(self, fmt: str, redactor: RedactingFilter) -> None:
        super().__init__(fmt)
        self.redactor = redactor

    def formatException(self, ei: Any) -> str:
        return self.redactor.redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return self.redactor.redact(super().formatStack(stack_info))


class JsonFormatter(RedactingFormatter):
    """One JSON object a line for a log pipeline: time, level, logger, message, process,
    the trace and span ids of the span the line was logged in, the exception and stack,
    and the workflow or activity Temporal's loggers name. Masked like the text lines:
    the message by the filter, the exception and stack here."""

    # What temporalio's workflow and activity loggers attach: ids and names, no payloads.
    TEMPORAL_CONTEXT = ("temporal_workflow", "temporal_activity")

    def __init__(self, redactor: RedactingFilter, process: str = "") -> None:
        super().__init__("%(message)s", redactor)
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.process:
            entry["process"] = self.process
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = trace.format_trace_id(span.trace_id)
            entry["span_id"] = trace.format_span_id(span.span_id)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = self.redactor.redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for name in self.TEMPORAL_CONTEXT:
            context = getattr(record, name, None)
            if isinstance(context, dict):
                entry[name] = context
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(
    level: str,
    secrets: Iterable[str] = (),
    process: str = "",
    log_format: Literal["text", "json"] = "text",
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    prefix = f"{process} " if process else ""
    redactor = RedactingFilter(secrets)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(redactor, process))
    else:
        handler.setFormatter(
            RedactingFormatter(f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s", redactor)
        )
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter at INFO drowns incident activity.
    # Some of these log request headers (credentials) at DEBUG: never below WARNING.
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler",
        "alembic",
        "temporalio.activity",
        "botocore",
        "boto3",
        "s3transfer",
        "urllib3",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
