"""Query logs as objects under an S3 prefix (a log shipper's output, gzip or plain).
Objects last written before the window are skipped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from integrations.query_logs.base import QueryLogError, split_lines

_PERMANENT = frozenset({"AccessDenied", "NoSuchBucket", "InvalidBucketName"})


class S3QueryLog:
    name = "s3"

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url

    def lines(self, since: datetime) -> Iterator[bytes]:
        # A session per read: activities run in threads, and boto3's default is not safe
        # to share between them.
        client: Any = boto3.session.Session().client("s3", endpoint_url=self.endpoint_url)
        try:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    if item["LastModified"] < since:
                        continue
                    body = client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                    yield from split_lines(body)
        except (BotoCoreError, ClientError) as exc:
            code = ""
            if isinstance(exc, ClientError):
                code = str(exc.response.get("Error", {}).get("Code", ""))
            raise QueryLogError(
                f"S3 query log s3://{self.bucket}/{self.prefix}: {code or type(exc).__name__}",
                retryable=code not in _PERMANENT,
            ) from None
