"""Evidence as objects in an S3 bucket (or an S3-compatible service), named by sha256."""

from __future__ import annotations

import threading
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from integrations.evidence.base import EvidenceStoreError, check_key

SCHEME = "s3://"
# Errors that retrying cannot fix; anything else (throttling, 5xx, network) may pass.
_PERMANENT = frozenset({"AccessDenied", "NoSuchBucket", "InvalidBucketName", "NoSuchKey"})


class S3EvidenceStore:
    name = "s3"

    def __init__(self, bucket: str, prefix: str = "evidence/", endpoint_url: str | None = None):
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        # Built on first use, in its own session: boto3's default session is not safe to
        # share between the threads activities run in (a client, once built, is). Region,
        # credentials and retries come from the standard AWS environment, as for real S3.
        with self._lock:
            if self._client is None:
                session = boto3.session.Session()
                self._client = session.client("s3", endpoint_url=self.endpoint_url)
            return self._client

    def object_key(self, key: str) -> str:
        return f"{self.prefix}{key[:2]}/{key}"

    def put(self, key: str, data: bytes) -> str:
        check_key(key, data)
        object_key = self.object_key(key)
        client = self.client()
        try:
            if not self._exists(client, object_key, len(data)):
                client.put_object(
                    Bucket=self.bucket,
                    Key=object_key,
                    Body=data,
                    ContentType="application/octet-stream",
                    ServerSideEncryption="AES256",
                )
        except (BotoCoreError, ClientError) as exc:
            raise _failure("put", object_key, exc) from None
        return f"{SCHEME}{self.bucket}/{object_key}"

    def get(self, uri: str) -> bytes:
        bucket, object_key = self._location(uri)
        try:
            response = self.client().get_object(Bucket=bucket, Key=object_key)
            body: bytes = response["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise _failure("get", object_key, exc) from None
        return body

    def delete(self, uri: str) -> None:
        # A versioned bucket keeps earlier versions: removing those is the bucket's
        # lifecycle policy, not ours.
        bucket, object_key = self._location(uri)
        try:
            self.client().delete_object(Bucket=bucket, Key=object_key)
        except (BotoCoreError, ClientError) as exc:
            raise _failure("delete", object_key, exc) from None

    def _location(self, uri: str) -> tuple[str, str]:
        bucket, _, object_key = uri.removeprefix(SCHEME).partition("/")
        if not uri.startswith(SCHEME) or bucket != self.bucket or not object_key:
            raise EvidenceStoreError(
                f"{uri} is not in the evidence bucket {self.bucket}", retryable=False
            )
        return bucket, object_key

    def _exists(self, client: Any, object_key: str, size: int) -> bool:
        try:
            head = client.head_object(Bucket=self.bucket, Key=object_key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return int(head.get("ContentLength", -1)) == size


def _failure(operation: str, object_key: str, exc: Exception) -> EvidenceStoreError:
    code = ""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
    return EvidenceStoreError(
        f"S3 {operation} of {object_key} failed: {code or type(exc).__name__}",
        retryable=code not in _PERMANENT,
    )
