"""Logging with secret redaction: configured secrets never reach a log line."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

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


def configure_logging(level: str, secrets: Iterable[str] = (), process: str = "") -> None:
    handler = logging.StreamHandler(sys.stderr)
    prefix = f"{process} " if process else ""
    redactor = RedactingFilter(secrets)
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
