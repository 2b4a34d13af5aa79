"""A boto3 client built on first use, shared by the threads activities run in."""

from __future__ import annotations

import threading
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]


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
