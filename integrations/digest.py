"""SHA-256 digests of model artifacts, as `sha256:<hex>`: a file, a directory, an S3 object or
an S3 prefix.

A directory (or prefix) digest covers every regular file below it in order of relative POSIX
path (sorted by code point): for each, the path in UTF-8, a NUL byte, the size in decimal
ASCII, a NUL byte, then the contents. Names and sizes are framed so that moving bytes between
files or renaming one changes the digest. A directory copied to S3 digests the same as the
local copy. `python -m integrations.digest PATH_OR_URI` prints the digest to register
(for an S3-compatible store, set `AWS_ENDPOINT_URL_S3`).
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ArtifactCheck:
    status: Literal["hashed", "missing", "unchecked"]
    digest: str | None = None
    reason: str | None = None


def _prefixed(hasher: Any) -> str:
    return f"sha256:{hasher.hexdigest()}"


def _feed_file(hasher: Any, path: Path) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)


def file_digest(path: Path) -> str:
    hasher = hashlib.sha256()
    _feed_file(hasher, path)
    return _prefixed(hasher)


def frame_member(hasher: Any, relative: str, size: int) -> None:
    """The header of one member of a directory digest (also used for registry artifacts)."""
    hasher.update(relative.encode("utf-8") + b"\0" + str(size).encode("ascii") + b"\0")


def _files_below(root: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if path.is_file():
                found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def directory_digest(root: Path) -> str:
    hasher = hashlib.sha256()
    for relative, path in _files_below(root):
        frame_member(hasher, relative, path.stat().st_size)
        _feed_file(hasher, path)
    return _prefixed(hasher)


def local_digest(path: Path) -> str:
    """Raises FileNotFoundError when nothing is at `path`."""
    if path.is_dir():
        return directory_digest(path)
    return file_digest(path)


def normalize_digest(value: str) -> str | None:
    """`sha256:<hex>` from a registered digest (bare hex accepted); None for other algorithms."""
    text = value.strip().lower()
    if not text.startswith("sha256:") and ":" not in text:
        text = f"sha256:{text}"
    hexpart = text.removeprefix("sha256:")
    if not text.startswith("sha256:") or len(hexpart) != 64:
        return None
    if any(char not in "0123456789abcdef" for char in hexpart):
        return None
    return text


def _local_path(uri: str) -> Path | None:
    if "://" not in uri:
        return Path(uri).expanduser()
    parsed = urlparse(uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return Path(unquote(parsed.path))
    return None


def _s3_client(endpoint_url: str | None) -> Any:
    # A session per check because boto3's default session is not safe to share between the
    # threads checks run in. Region, credentials, retries, AWS_ENDPOINT_URL(_S3) and the
    # addressing style all still come from the standard AWS environment and config files,
    # so nothing here second-guesses a real-AWS setup.
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url)


def _feed_object(hasher: Any, client: Any, bucket: str, key: str, *, framed_as: str | None) -> None:
    """Streams one object into `hasher`; with `framed_as`, framed like a directory member."""
    response = client.get_object(Bucket=bucket, Key=key)
    body = response["Body"]
    try:
        if framed_as is not None:
            # The size of the bytes actually read, not the listing's: an object replaced
            # between listing and reading must not frame one version around the other.
            frame_member(hasher, framed_as, int(response["ContentLength"]))
        for chunk in body.iter_chunks(_CHUNK):
            hasher.update(chunk)
    finally:
        body.close()


def _prefix_members(client: Any, bucket: str, prefix: str) -> list[str]:
    """Relative names of the objects under `prefix`, as `_files_below` names files."""
    members: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            key: str = entry["Key"]
            if not key.endswith("/"):  # "folder" marker objects hold no data, like directories
                members.append(key[len(prefix) :])
    return sorted(members)


def _prefix_digest(client: Any, bucket: str, prefix: str) -> str | None:
    members = _prefix_members(client, bucket, prefix)
    if not members:
        return None
    hasher = hashlib.sha256()
    for relative in members:
        _feed_object(hasher, client, bucket, prefix + relative, framed_as=relative)
    return _prefixed(hasher)


# What S3 and S3-compatible stores answer for a key with no object.
_NO_OBJECT = frozenset({"NoSuchKey", "NotFound", "404"})


def _error_code(exc: ClientError) -> str:
    code = exc.response.get("Error", {}).get("Code")
    return str(code) if code else "an error"


def s3_digest(uri: str, *, endpoint_url: str | None = None) -> ArtifactCheck:
    """`s3://bucket/key` is one object, `s3://bucket/prefix/` every object under the prefix.
    A key with no object but objects under `key/` is that prefix, as a local path may name a
    file or a directory. `endpoint_url` points at an S3-compatible store instead of AWS."""
    parsed = urlparse(uri)
    bucket, key = parsed.netloc, unquote(parsed.path.lstrip("/"))
    try:
        client = _s3_client(endpoint_url)
        if key and not key.endswith("/"):
            hasher = hashlib.sha256()
            try:
                _feed_object(hasher, client, bucket, key, framed_as=None)
                return ArtifactCheck("hashed", digest=_prefixed(hasher))
            except ClientError as exc:
                if _error_code(exc) not in _NO_OBJECT:
                    raise
            digest = _prefix_digest(client, bucket, key + "/")
            missing = "no object at the key or under it"
        else:
            digest = _prefix_digest(client, bucket, key)
            missing = "no objects under the prefix"
        if digest is None:
            return ArtifactCheck("missing", reason=missing)
        return ArtifactCheck("hashed", digest=digest)
    except ClientError as exc:
        # Only the error code: messages can echo request details such as the access key id.
        code = _error_code(exc)
        if code == "NoSuchBucket":
            return ArtifactCheck("missing", reason="no such bucket")
        if code in _NO_OBJECT:  # deleted between listing the prefix and reading it
            return ArtifactCheck("missing", reason="an object under the prefix vanished")
        return ArtifactCheck("unchecked", reason=f"S3 answered {code}")
    except Exception as exc:
        # Network, credentials, a malformed endpoint or bucket name (botocore raises
        # ValueError): this artifact is unchecked, but the run goes on to the others. Only
        # the type: messages can quote the endpoint or request.
        return ArtifactCheck("unchecked", reason=f"S3 read failed ({type(exc).__name__})")


def artifact_digest(uri: str, *, s3_endpoint_url: str | None = None) -> ArtifactCheck:
    """Digest of the artifact at a local path, `file://` or `s3://` URI."""
    path = _local_path(uri)
    if path is not None:
        try:
            return ArtifactCheck("hashed", digest=local_digest(path))
        except FileNotFoundError:
            return ArtifactCheck("missing", reason="no file or directory at the path")
        except OSError as exc:
            return ArtifactCheck("unchecked", reason=f"cannot read it ({exc.strerror})")
    if uri.startswith("s3://"):
        return s3_digest(uri, endpoint_url=s3_endpoint_url)
    scheme = uri.split("://", 1)[0]
    return ArtifactCheck("unchecked", reason=f"unsupported URI scheme {scheme!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m integrations.digest PATH_OR_URI", file=sys.stderr)
        return 2
    check = artifact_digest(argv[0])
    if check.digest is None:
        print(f"{check.status}: {check.reason}", file=sys.stderr)
        return 1
    print(check.digest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
