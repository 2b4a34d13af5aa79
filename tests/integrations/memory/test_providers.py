"""The memory providers against real stores: Redis, and the local state file with the same
glob rules. Exactly the conversation's keys go, values are never recorded, a second purge
deletes nothing, and errors never quote the password."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from integrations.memory.base import MemoryProvider, MemoryProviderError, MemoryScope, key_digest
from integrations.memory.local import LocalMemory, glob_regex
from integrations.memory.redis_memory import RedisMemory
from smokejumper.domain.memory import resolve_patterns
from tests.helpers import free_port
from tests.integrations.memory.conftest import Conversations

LEAKED = "the key is sj_live_ab9f8e7d6c5b4a3210"
APP = "support-bot"


def templates(memory: Conversations) -> list[str]:
    return [memory.key("message_store:{session}"), memory.key("llmcache:{user}:*")]


def scope(memory: Conversations, session: str | None, user: str | None) -> MemoryScope:
    patterns = resolve_patterns(templates(memory), session=session, user=user)
    return MemoryScope(application=APP, patterns=patterns)


class LocalStore:
    """The local provider over the same key names the Redis fixture writes."""

    def __init__(self, path: Path, memory: Conversations) -> None:
        self.provider = LocalMemory(path)
        self.memory = memory

    def write(self, keys: list[str]) -> None:
        for key in keys:
            self.provider.remember(key, application=APP)

    def keys(self) -> set[str]:
        return set(json.loads(self.provider.path.read_text())["memory"])


def seed(memory: Conversations) -> tuple[set[str], set[str]]:
    """The conversation's keys (session sess-1, user u-1) and the neighbours that stay."""
    mine = {
        memory.history("sess-1", "hi", LEAKED),
        memory.cache("llmcache:u-1:prompt-a", LEAKED),
        memory.cache("llmcache:u-1:prompt-b", "ok"),
    }
    others = {
        memory.history("sess-10", "another conversation"),  # a prefix of it must not match
        memory.history("sess-2", "x"),
        memory.cache("llmcache:u-10:prompt-a", "y"),
        memory.cache("llmcache:u-2:prompt-a", "z"),
    }
    return mine, others


Build = Callable[[Conversations, Path], tuple[MemoryProvider, Callable[[], set[str]]]]


def redis_store(memory: Conversations, _: Path) -> tuple[MemoryProvider, Callable[[], set[str]]]:
    return RedisMemory(APP, memory.url), memory.keys


def local_store(memory: Conversations, tmp: Path) -> tuple[MemoryProvider, Callable[[], set[str]]]:
    local = LocalStore(tmp / "memory.json", memory)
    local.write(sorted(memory.keys()))
    return local.provider, local.keys


@pytest.mark.parametrize("build", [redis_store, local_store], ids=["redis", "local"])
def test_purge_deletes_exactly_the_conversations_keys_once(
    conversations: Conversations, tmp_path: Path, build: Build
) -> None:
    mine, others = seed(conversations)
    provider, keys = build(conversations, tmp_path)
    target = scope(conversations, "sess-1", "u-1")

    before = provider.state(target)
    assert (before.status, before.keys) == ("present", 3)
    assert before.key_digests == sorted(key_digest(k) for k in mine)
    # Key names carry session and user ids, values carry the leak: neither is recorded.
    recorded = before.model_dump_json()
    assert "sess-1" not in recorded and "u-1" not in recorded and LEAKED not in recorded

    purged = provider.purge(target)
    assert (purged.status, purged.keys, purged.details["deleted"]) == ("purged", 3, 3)
    assert keys() == others
    assert provider.verify_purged(target)

    again = provider.purge(target)
    assert (again.keys, again.details["deleted"]) == (0, 0)
    assert keys() == others


@pytest.mark.parametrize("build", [redis_store, local_store], ids=["redis", "local"])
def test_glob_characters_in_a_session_id_match_only_themselves(
    conversations: Conversations, tmp_path: Path, build: Build
) -> None:
    _, _ = seed(conversations)
    provider, keys = build(conversations, tmp_path)
    everything = keys()
    for hostile in ("*", "sess-?", "sess-[12]", "sess-1\\"):
        target = scope(conversations, hostile, None)
        assert provider.purge(target).keys == 0
    assert keys() == everything


def test_only_the_patterns_the_incident_can_fill_apply(conversations: Conversations) -> None:
    assert resolve_patterns(templates(conversations), session="s", user=None) == [
        conversations.key("message_store:s")
    ]
    assert resolve_patterns(templates(conversations), session=None, user=None) == []


def test_redis_glob_rules_in_the_local_provider() -> None:
    assert glob_regex("a[^b]c").fullmatch("axc") and not glob_regex("a[^b]c").fullmatch("abc")
    assert glob_regex("a[b-d]?").fullmatch("acz")
    assert glob_regex("a\\*").fullmatch("a*") and not glob_regex("a\\*").fullmatch("ab")
    assert glob_regex("x.y").fullmatch("x.y") and not glob_regex("x.y").fullmatch("xzy")


def test_unreachable_redis_is_retryable_and_never_shows_the_password() -> None:
    port = free_port()
    provider = RedisMemory(APP, f"redis://:hunter2-secret@127.0.0.1:{port}/0", timeout_seconds=1)
    with pytest.raises(MemoryProviderError) as caught:
        provider.purge(MemoryScope(application=APP, patterns=["message_store:s"]))
    assert caught.value.retryable
    message = str(caught.value)
    assert "hunter2-secret" not in message
    assert f"127.0.0.1:{port}" in message and "cannot reach" in message


def test_a_refused_password_is_not_retried_and_not_shown(conversations: Conversations) -> None:
    # The test server has no password: AUTH is refused.
    provider = RedisMemory(APP, conversations.url, password="hunter2-secret")
    with pytest.raises(MemoryProviderError) as caught:
        provider.state(MemoryScope(application=APP, patterns=["message_store:s"]))
    assert not caught.value.retryable
    assert "hunter2-secret" not in str(caught.value)


def test_a_url_that_is_not_redis_is_refused() -> None:
    with pytest.raises(MemoryProviderError) as caught:
        RedisMemory(APP, "http://user:hunter2-secret@cache:6379/0")
    assert not caught.value.retryable
    assert "hunter2-secret" not in str(caught.value)


def test_a_redis_snapshot_keeps_every_value_as_the_store_holds_it(
    conversations: Conversations,
) -> None:
    """What an application keeps in Redis comes in every type; the snapshot is what a
    responder would need to see what was deleted, binary values included."""
    client, key = conversations.client, conversations.key
    history = conversations.history("sess-1", "hi", LEAKED)
    client.hset(key("llmcache:u-1:meta"), mapping={"prompt": "what key?", "answer": LEAKED})
    client.sadd(key("llmcache:u-1:tags"), "b", "a")
    client.zadd(key("llmcache:u-1:scores"), {"x": 2.5})
    client.xadd(key("llmcache:u-1:events"), {"said": LEAKED})
    client.set(key("llmcache:u-1:blob"), b"\xff\x00binary", ex=3600)
    other = conversations.history("sess-2", "not mine")
    provider = RedisMemory(APP, conversations.url)

    snapshot = provider.snapshot(scope(conversations, "sess-1", "u-1"))
    entries = {e.key: e for e in snapshot.entries}
    assert set(entries) == {
        history,
        key("llmcache:u-1:meta"),
        key("llmcache:u-1:tags"),
        key("llmcache:u-1:scores"),
        key("llmcache:u-1:events"),
        key("llmcache:u-1:blob"),
    }
    assert other not in entries
    assert entries[history].value == [LEAKED, "hi"]  # LPUSH order, as the store holds it
    assert entries[key("llmcache:u-1:meta")].value == {"answer": LEAKED, "prompt": "what key?"}
    assert entries[key("llmcache:u-1:tags")].value == ["a", "b"]
    assert entries[key("llmcache:u-1:scores")].value == [["x", 2.5]]
    [[_, fields]] = entries[key("llmcache:u-1:events")].value
    assert fields == {"said": LEAKED}
    blob = entries[key("llmcache:u-1:blob")]
    assert blob.value == "base64:/wBiaW5hcnk=" and blob.ttl_seconds is not None
    assert entries[history].ttl_seconds is None
    # The same entries make the same evidence: the content is canonical.
    assert provider.snapshot(scope(conversations, "sess-1", "u-1")).content() == (
        snapshot.content()
    )


@pytest.mark.parametrize("build", [redis_store, local_store], ids=["redis", "local"])
def test_a_purge_of_a_snapshot_deletes_only_what_it_kept(
    conversations: Conversations, tmp_path: Path, build: Build
) -> None:
    mine, others = seed(conversations)
    provider, keys = build(conversations, tmp_path)
    target = scope(conversations, "sess-1", "u-1")
    snapshot = provider.snapshot(target)
    assert {e.key for e in snapshot.entries} == mine

    # Written after the snapshot: not kept, so not deleted, and the purge is not verified.
    late = conversations.cache("llmcache:u-1:prompt-late", "written after the snapshot")
    if isinstance(provider, LocalMemory):
        provider.remember(late, application=APP)
    purged = provider.purge(target, only=snapshot.names)
    assert purged.keys == 3
    assert keys() == others | {late}
    assert not provider.verify_purged(target)
