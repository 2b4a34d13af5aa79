"""Conversation memory and LLM caches kept in Redis, the way LLM applications keep them:
LangChain's RedisChatMessageHistory holds a conversation as a list at
`message_store:<session_id>`, LLM and semantic caches keep entries under a prefix.

Keys are found with SCAN MATCH (never KEYS, which blocks the server for as long as it
walks the keyspace) and deleted with UNLINK (freed in the background). Values are never
read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import redis
from redis import exceptions as redis_errors

from integrations.memory.base import MemoryProviderError, MemoryScope, MemoryState, memory_state

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

    def purge(self, scope: MemoryScope) -> MemoryState:
        names = self._keys(scope)
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
