"""Conversation memory and LLM caches kept in Redis, the way LLM applications keep them:
LangChain's RedisChatMessageHistory holds a conversation as a list at
`message_store:<session_id>`, LLM and semantic caches keep entries under a prefix.

Keys are found with SCAN MATCH (never KEYS, which blocks the server for as long as it
walks the keyspace) and deleted with UNLINK (freed in the background). Values are read
only by `snapshot`, which keeps them as evidence just before a purge deletes them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from typing import Any
from urllib.parse import urlsplit

import redis
from redis import exceptions as redis_errors

from integrations.memory.base import (
    MemoryEntry,
    MemoryProviderError,
    MemoryScope,
    MemorySnapshot,
    MemoryState,
    memory_state,
    text_of,
)

PROVIDER = "redis"
_BATCH = 500


def masked(url: str) -> str:
    """The URL without its credentials, for messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return f"{url.split('://', 1)[0]}://(unparsable URL)"
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisMemory:
    name = PROVIDER
    restorable = False

    def __init__(
        self,
        application: str,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.application = application
        self.where = masked(url)
        credentials = {
            k: v for k, v in (("username", username), ("password", password)) if v is not None
        }
        try:
            self.client = redis.Redis.from_url(
                url,
                socket_timeout=timeout_seconds,
                socket_connect_timeout=timeout_seconds,
                **credentials,
            )
        except ValueError:
            raise MemoryProviderError(
                f"redis memory of {application}: {self.where} is not a Redis URL",
                retryable=False,
            ) from None

    @contextlib.contextmanager
    def _calls(self, what: str) -> Iterator[None]:
        """Redis errors as provider errors. The exception text is left out where it may
        name the connection (some client versions quote the URL)."""
        prefix = f"redis memory of {self.application} at {self.where}: {what}"
        try:
            yield
        except (redis_errors.AuthenticationError, redis_errors.NoPermissionError) as exc:
            raise MemoryProviderError(
                f"{prefix}: access denied ({type(exc).__name__}); check the username, "
                "password and ACL",
                retryable=False,
            ) from None
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            raise MemoryProviderError(
                f"{prefix}: cannot reach the server ({type(exc).__name__})"
            ) from None
        except redis_errors.ResponseError as exc:
            # The server's own words (an unknown command, a wrong type): retrying will not help.
            raise MemoryProviderError(f"{prefix}: {exc}", retryable=False) from None
        except redis_errors.RedisError as exc:
            raise MemoryProviderError(f"{prefix}: {type(exc).__name__}") from None

    def _keys(self, scope: MemoryScope) -> set[bytes]:
        found: set[bytes] = set()
        with self._calls("scan"):
            for pattern in scope.patterns:
                found.update(self.client.scan_iter(match=pattern, count=_BATCH))
        return found

    def state(self, scope: MemoryScope) -> MemoryState:
        return memory_state(scope, PROVIDER, self._keys(scope), where=self.where)

    def snapshot(self, scope: MemoryScope) -> MemorySnapshot:
        names = self._keys(scope)
        ordered = sorted(names)
        entries: list[MemoryEntry] = []
        with self._calls("read"):
            for start in range(0, len(ordered), _BATCH):
                batch = ordered[start : start + _BATCH]
                kinds = self._pipelined(lambda p, name: p.type(name), batch)
                values, ttls = self._values(batch, kinds)
                for name in batch:
                    kind = text_of(kinds[name])
                    if kind == "none":  # expired between SCAN and read: nothing to keep
                        names.discard(name)
                        continue
                    ttl = ttls[name]
                    entries.append(
                        MemoryEntry(
                            key=text_of(name),
                            type=kind,
                            value=_plain(kind, values[name]),
                            ttl_seconds=ttl if isinstance(ttl, int) and ttl >= 0 else None,
                        )
                    )
        return MemorySnapshot(self.application, PROVIDER, entries, names)

    def _values(
        self, names: list[bytes], kinds: dict[bytes, Any]
    ) -> tuple[dict[bytes, Any], dict[bytes, Any]]:
        """Each entry's whole value, read as its type reads, and its TTL: one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            _read_command(pipe, name, text_of(kinds[name]))
            pipe.ttl(name)
        replies = pipe.execute()
        return (
            dict(zip(names, replies[0::2], strict=True)),
            dict(zip(names, replies[1::2], strict=True)),
        )

    def _pipelined(self, command: Any, names: list[bytes]) -> dict[bytes, Any]:
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            command(pipe, name)
        return dict(zip(names, pipe.execute(), strict=True))

    def purge(self, scope: MemoryScope, only: Collection[bytes | str] | None = None) -> MemoryState:
        names = self._keys(scope)
        if only is not None:
            kept = {n.encode("utf-8") if isinstance(n, str) else n for n in only}
            names &= kept
        deleted = 0
        batch = sorted(names)
        with self._calls("unlink"):
            for start in range(0, len(batch), _BATCH):
                removed = self.client.unlink(*batch[start : start + _BATCH])
                # redis-py types every command for its async client too.
                assert isinstance(removed, int)
                deleted += removed
        # A key that expired between SCAN and UNLINK is gone too; `deleted` says how many
        # this call removed.
        return memory_state(scope, PROVIDER, names, purged=True, where=self.where, deleted=deleted)

    def verify_purged(self, scope: MemoryScope) -> bool:
        return not self._keys(scope)


def _read_command(pipe: Any, name: bytes, kind: str) -> Any:
    """The read that returns a whole value of its type; DUMP for the types Redis modules
    add (JSON, time series), which keeps them restorable byte for byte."""
    if kind == "string":
        return pipe.get(name)
    if kind == "list":
        return pipe.lrange(name, 0, -1)
    if kind == "hash":
        return pipe.hgetall(name)
    if kind == "set":
        return pipe.smembers(name)
    if kind == "zset":
        return pipe.zrange(name, 0, -1, withscores=True)
    if kind == "stream":
        return pipe.xrange(name)
    return pipe.dump(name)


def _plain(kind: str, value: Any) -> Any:
    """A Redis reply as JSON: bytes as text (base64 when not UTF-8), sets sorted."""
    if value is None:
        return None
    if kind == "string":
        return text_of(value)
    if kind == "list":
        return [text_of(v) for v in value]
    if kind == "hash":
        return {text_of(k): text_of(v) for k, v in sorted(value.items())}
    if kind == "set":
        return sorted(text_of(v) for v in value)
    if kind == "zset":
        return [[text_of(member), score] for member, score in value]
    if kind == "stream":
        return [
            [text_of(entry_id), {text_of(k): text_of(v) for k, v in fields.items()}]
            for entry_id, fields in value
        ]
    return text_of(value) if isinstance(value, bytes) else value
