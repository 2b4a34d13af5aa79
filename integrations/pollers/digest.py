"""SHA-256 digests of model artifacts, as `sha256:<hex>`: a file, a directory, an S3 object or
an S3 prefix.

A directory (or prefix) digest covers every regular file below it in order of relative POSIX
path (sorted by code point): for each, the path in UTF-8, a NUL byte, the size in decimal
ASCII, a NUL byte, then the contents. Names and sizes are framed so that moving bytes between
files or renaming one changes the digest. A directory copied to S3 digests the same as the
local copy. `python -m integrations.pollers.digest PATH` prints the digest to register.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

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


def _frame(hasher: Any, relative: str, size: int) -> None:
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
        _frame(hasher, relative, path.stat().st_size)
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


def _s3_chunks(body: Any) -> Iterator[bytes]:
    chunks: Iterable[bytes] = body.iter_chunks(_CHUNK)
    yield from chunks


def s3_digest(uri: str) -> ArtifactCheck:
    try:
        boto3: Any = importlib.import_module("boto3")
    except ImportError:
        return ArtifactCheck("unchecked", reason="unchecked: boto3 not installed")
    parsed = urlparse(uri)
    bucket, key = parsed.netloc, unquote(parsed.path.lstrip("/"))
    client = boto3.client("s3")
    hasher = hashlib.sha256()
    try:
        if key and not key.endswith("/"):
            response = client.get_object(Bucket=bucket, Key=key)
            for chunk in _s3_chunks(response["Body"]):
                hasher.update(chunk)
            return ArtifactCheck("hashed", digest=_prefixed(hasher))
        keys: list[tuple[str, int]] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
            for entry in page.get("Contents", []):
                if not entry["Key"].endswith("/"):  # "folder" marker objects hold no data
                    keys.append((entry["Key"][len(key) :], int(entry["Size"])))
        if not keys:
            return ArtifactCheck("missing", reason="no objects under the prefix")
        for relative, size in sorted(keys):
            _frame(hasher, relative, size)
            response = client.get_object(Bucket=bucket, Key=key + relative)
            for chunk in _s3_chunks(response["Body"]):
                hasher.update(chunk)
        return ArtifactCheck("hashed", digest=_prefixed(hasher))
    except Exception as exc:
        answer = getattr(exc, "response", None)
        code = answer.get("Error", {}).get("Code") if isinstance(answer, dict) else None
        if code in ("NoSuchKey", "404", "NoSuchBucket"):
            return ArtifactCheck("missing", reason=f"S3 answered {code}")
        return ArtifactCheck("unchecked", reason=f"S3 read failed ({type(exc).__name__})")


def artifact_digest(uri: str) -> ArtifactCheck:
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
        return s3_digest(uri)
    scheme = uri.split("://", 1)[0]
    return ArtifactCheck("unchecked", reason=f"unsupported URI scheme {scheme!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m integrations.pollers.digest PATH_OR_URI", file=sys.stderr)
        return 2
    check = artifact_digest(argv[0])
    if check.digest is None:
        print(f"{check.status}: {check.reason}", file=sys.stderr)
        return 1
    print(check.digest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
