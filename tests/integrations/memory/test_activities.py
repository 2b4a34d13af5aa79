"""`purge_memory` and `memory_purge_plan` bound to a store and the real Redis: one purge per
business key on the `actions` table, recorded before it deletes, and not reversible."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.memory import MemoryActivities
from integrations.memory.base import key_digest
from integrations.memory.local import LocalMemory
from smokejumper.config import Settings, load_settings
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.memory import MemoryAction, MemoryPlan, MemoryQuery
from smokejumper.store.db import Store
from smokejumper.store.tables import Action
from tests.helpers import free_port, insert_incident
from tests.integrations.memory.conftest import Conversations

APP = "support-bot"


def memory_settings(tmp_path: Path, memory: Conversations, **config: Any) -> Settings:
    section = {
        "url": memory.url,
        "key_patterns": [memory.key("message_store:{session}"), memory.key("llmcache:{user}:*")],
        **config,
    }
    return load_settings(data_dir=tmp_path / "data", memory={APP: section})


def purge(incident_id: int, **who: str) -> MemoryAction:
    return MemoryAction(
        incident_id=incident_id, step="purge conversation memory", application=APP, **who
    )


async def run(activities: MemoryActivities, action: MemoryAction) -> ActionResult:
    result: ActionResult = await ActivityEnvironment().run(activities.purge_memory, action)
    return result


def rows(store: Store) -> list[Action]:
    with store.session() as session:
        return list(session.scalars(select(Action).where(Action.action == "purge_memory")))


@pytest.fixture
def incident_id(migrated_store: Store) -> int:
    return insert_incident(
        migrated_store, playbook="sensitive-data-leakage", fingerprint=uuid.uuid4().hex
    ).incident_id


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_purge_runs_once_and_records_what_it_deleted(
    migrated_store: Store, conversations: Conversations, tmp_path: Path, incident_id: int
) -> None:
    history = conversations.history("sess-1", "hello", "leaked")
    cached = conversations.cache("llmcache:u-1:p", "leaked")
    other = conversations.history("sess-2", "hello")
    activities = MemoryActivities(migrated_store, memory_settings(tmp_path, conversations))

    first = await run(activities, purge(incident_id, session="sess-1", user="u-1"))
    assert (first.status, first.verified, first.reversible) == ("completed", True, False)
    assert first.before["keys"] == 2
    assert first.before["key_digests"] == sorted([key_digest(history), key_digest(cached)])
    assert first.after["details"]["restorable"] is False
    assert conversations.keys() == {other}

    # Written again under the same session: a retry of the same action does not purge again.
    conversations.history("sess-1", "new")
    second = await run(activities, purge(incident_id, session="sess-1", user="u-1"))
    assert second == first
    assert len(conversations.keys()) == 2
    [row] = rows(migrated_store)
    assert (row.target, row.provider, row.attempts) == (
        f"{APP}/session:sess-1,user:u-1",
        "redis",
        1,
    )
    assert row.business_key == f"{incident_id}:purge_memory:{APP}/session:sess-1,user:u-1"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_unreachable_store_is_retried_and_an_unconfigured_one_is_not(
    migrated_store: Store, conversations: Conversations, tmp_path: Path, incident_id: int
) -> None:
    down = memory_settings(
        tmp_path,
        conversations,
        url=f"redis://127.0.0.1:{free_port()}/0",
        password="hunter2-secret",
        timeout_seconds=1,
    )
    with pytest.raises(ApplicationError) as caught:
        await run(MemoryActivities(migrated_store, down), purge(incident_id, session="sess-1"))
    assert not caught.value.non_retryable
    assert "hunter2-secret" not in caught.value.message
    [row] = rows(migrated_store)
    assert row.status == "started" and row.error and "cannot reach" in row.error

    nothing = MemoryActivities(migrated_store, load_settings(data_dir=tmp_path / "data"))
    action = purge(incident_id, session="sess-9")
    with pytest.raises(ApplicationError) as caught:
        await run(nothing, action)
    assert caught.value.non_retryable
    assert "[memory.support-bot]" in caught.value.message
    failed = next(r for r in rows(migrated_store) if r.business_key == action.business_key)
    assert failed.status == "failed"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_plan_says_whether_this_conversation_can_be_purged(
    migrated_store: Store, conversations: Conversations, tmp_path: Path
) -> None:
    settings = memory_settings(
        tmp_path, conversations, key_patterns=[conversations.key("message_store:{session}")]
    )
    activities = MemoryActivities(migrated_store, settings)

    async def plan(**query: str) -> MemoryPlan:
        answer: MemoryPlan = await ActivityEnvironment().run(
            activities.memory_purge_plan, MemoryQuery(**query)
        )
        return answer

    ready = await plan(application=APP, session="s", user="u")
    assert (ready.configured, ready.provider, ready.patterns) == (True, "redis", 1)
    only_user = await plan(application=APP, user="u")
    assert not only_user.configured and "no key pattern" in only_user.reason
    assert "no session or user" in (await plan(application=APP)).reason
    assert "no [memory.other-app]" in (await plan(application="other-app", session="s")).reason
    assert not (await plan()).configured


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_local_provider_purges_the_state_file(
    migrated_store: Store, tmp_path: Path, incident_id: int
) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data",
        memory={APP: {"provider": "local", "key_patterns": ["message_store:{session}"]}},
    )
    local = LocalMemory(settings.local_memory_file)
    local.remember("message_store:sess-1", application=APP, entries=4)
    local.remember("message_store:sess-2", application=APP)
    activities = MemoryActivities(migrated_store, settings)

    result = await run(activities, purge(incident_id, session="sess-1"))
    assert (result.provider, result.before["keys"], result.verified) == ("local", 1, True)
    on_disk = json.loads(settings.local_memory_file.read_text())["memory"]
    assert set(on_disk) == {"message_store:sess-2"}
