"""The audit log's head checkpoint, kept in the evidence store beside the evidence.

One named object, overwritten after every append: `audit/head.json` in the `local`
store's folder, `<prefix>audit/head.json` in the `s3` bucket. Evidence objects are named by
their sha256 and never overwritten; this one is not evidence and lives apart from them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from integrations.evidence.s3 import S3EvidenceStore
from smokejumper.config import Settings
from smokejumper.private_files import private_dir
from smokejumper.store.audit_seal import HeadCheckpoints

HEAD_NAME = "audit/head.json"


class LocalHeadCheckpoints:
    def __init__(self, directory: Path) -> None:
        self.path = directory.expanduser().resolve() / HEAD_NAME
        self.location = f"file://{self.path}"

    def write(self, data: bytes) -> None:
        private_dir(self.path.parent)
        # Readers see the old head or the new one, never half of one.
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None


class S3HeadCheckpoints:
    def __init__(self, store: S3EvidenceStore) -> None:
        self.store = store
        self.key = f"{store.prefix}{HEAD_NAME}"
        self.location = f"s3://{store.bucket}/{self.key}"

    def write(self, data: bytes) -> None:
        self.store.client().put_object(
            Bucket=self.store.bucket,
            Key=self.key,
            Body=data,
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )

    def read(self) -> bytes | None:
        try:
            response = self.store.client().get_object(Bucket=self.store.bucket, Key=self.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        body: bytes = response["Body"].read()
        return body


def head_checkpoints(settings: Settings) -> HeadCheckpoints | None:
    """Where this deployment's head checkpoint goes; None when `audit.checkpoint` is off."""
    if not settings.audit.checkpoint:
        return None
    config = settings.evidence
    if config.store == "s3" and config.s3_bucket:
        return S3HeadCheckpoints(
            S3EvidenceStore(config.s3_bucket, config.s3_prefix, config.s3_endpoint_url)
        )
    return LocalHeadCheckpoints(settings.evidence_directory)
