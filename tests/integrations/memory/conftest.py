"""Conversation memory in the real Redis at 127.0.0.1:6379: a database of its own, and keys
under a prefix unique to each test (deleted afterwards). No Redis fails the run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

REDIS_HOST = "127.0.0.1:6379"
# Nothing else on the machine uses this database; the prefix keeps parallel tests apart.
REDIS_DB = 11


@dataclass
class Conversations:
    """An LLM application's Redis, written the way the application writes it."""

    client: redis.Redis
    prefix: str

    @property
    def url(self) -> str:
        return f"redis://{REDIS_HOST}/{REDIS_DB}"

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def history(self, session: str, *messages: str) -> str:
        """A LangChain RedisChatMessageHistory: a list at `message_store:<session_id>`."""
        key = self.key(f"message_store:{session}")
        self.client.lpush(key, *messages)
        return key

    def cache(self, name: str, value: str) -> str:
        key = self.key(name)
        self.client.set(key, value)
        return key

    def keys(self) -> set[str]:
        return {k.decode() for k in self.client.scan_iter(match=f"{self.prefix}*")}


@pytest.fixture
def conversations() -> Iterator[Conversations]:
    client = redis.Redis.from_url(f"redis://{REDIS_HOST}/{REDIS_DB}", socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required at {REDIS_HOST}: {exc}", pytrace=False)
    memory = Conversations(client, f"sj-test-{uuid.uuid4().hex[:10]}:")
    try:
        yield memory
    finally:
        for key in memory.client.scan_iter(match=f"{memory.prefix}*"):
            memory.client.delete(key)
        client.close()
