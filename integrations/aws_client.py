"""A boto3 client built on first use, shared by the threads activities run in."""

from __future__ import annotations

import threading
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore import exceptions as boto  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

# Client-side errors that fail the same way on every attempt: no or bad credentials, no
# region, a bad profile or parameter. Retrying only keeps the responder waiting.
_PERMANENT = (
    boto.NoCredentialsError,
    boto.PartialCredentialsError,
    boto.CredentialRetrievalError,
    boto.UnknownCredentialError,
    boto.NoRegionError,
    boto.InvalidRegionError,
    boto.ProfileNotFound,
    boto.ConfigNotFound,
    boto.InvalidConfigError,
    boto.ParamValidationError,
    boto.UnknownServiceError,
    boto.UnknownEndpointError,
    boto.InvalidEndpointConfigurationError,
)


def retry_can_help(exc: Exception) -> bool:
    """False for a botocore error that says the client is misconfigured (credentials,
    region, parameters); network errors and the rest may pass on a retry."""
    return not isinstance(exc, _PERMANENT)


def why(exc: Exception) -> str:
    """A fixed-shape description of a botocore error (never its message, which may quote
    a profile or file path): its class name, with what it means for the permanent ones."""
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return f"{type(exc).__name__}: no usable AWS credentials"
    if isinstance(exc, boto.NoRegionError):
        return f"{type(exc).__name__}: no AWS region configured"
    return type(exc).__name__


class LazyAwsClient:
    """Built on first use, not at worker start: a worker that never touches this service
    needs no AWS credentials. Each client gets its own session (boto3's default session is
    not thread-safe; a built client is)."""

    def __init__(self, service: str, endpoint_url: str | None) -> None:
        self.service = service
        self.endpoint_url = endpoint_url
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = boto3.session.Session().client(
                    self.service,
                    endpoint_url=self.endpoint_url,
                    config=Config(retries={"mode": "standard", "max_attempts": 3}),
                )
            return self._client
