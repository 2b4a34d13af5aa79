"""`sensitive-data-leakage` purging the leaking conversation's memory, end to end: alert over
HTTP → containment → the security on-call answers over HTTP → the application's Redis keys
of that conversation are gone, exactly once; denied or not configured, they stay and the
report says to purge by hand."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.integrations.memory.conftest import Conversations, conversations
from tests.playbooks.conftest import LEAKED_KEY, Responder, responder_on
from tests.playbooks.test_data_leakage import assert_redacted, leak_alert

__all__ = ["conversations"]

SESSION = "sess_01HZX3K9"  # what leak_alert() names, with user u-1842
BY_HAND = "Purge the conversation memory and caches of session sess_01HZX3K9 and user u-1842"


@pytest_asyncio.fixture
async def purging(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    conversations: Conversations,
) -> AsyncIterator[Responder]:
    """The engine with support-bot's memory in Redis: LangChain histories per session and
    an LLM cache per user."""
    memory = {
        "support-bot": {
            "url": conversations.url,
            "key_patterns": [
                conversations.key("message_store:{session}"),
                conversations.key("llmcache:{user}:*"),
            ],
        }
    }
    async with responder_on(tmp_path, database_url, temporal_env, memory=memory) as running:
        yield running


def seed(memory: Conversations) -> tuple[set[str], set[str]]:
    mine = {
        memory.history(SESSION, "what is the api key?", f"The key is {LEAKED_KEY}"),
        memory.cache("llmcache:u-1842:9f2c", f"The key is {LEAKED_KEY}"),
    }
    others = {
        memory.history("sess_OTHER", "hello"),
        memory.cache("llmcache:u-77:9f2c", "hello"),
    }
    return mine, others


async def follow_ups(responder: Responder, ref: str) -> list[str]:
    report = json.loads(await responder.report(ref, "json"))
    found: list[str] = report["follow_ups"]
    return found


async def test_approved_the_conversations_memory_is_purged_once(
    purging: Responder, conversations: Conversations
) -> None:
    mine, others = seed(conversations)
    ref = await purging.send(leak_alert())

    # Containment first: asked once the key is revoked, before the DPO is.
    await purging.wait_for_approval(ref, "purge memory")
    [revocation] = purging.actions("revoke_key")
    assert revocation.status == "completed"
    assert conversations.keys() == mine | others
    asked = await purging.wait_for(ref, "approval.requested", step="purge memory")
    assert "session sess_01HZX3K9 and user u-1842 in support-bot" in asked["message"]
    assert asked["data"]["approvers"] == "group:security-oncall"

    receipt = await purging.decide(ref, "purge memory", True, "evidence is captured")
    assert receipt["decision"]["outcome"] == "approved"
    purged = await purging.wait_for(ref, "memory.purged")
    assert "Purged 2 of 2" in purged["message"] and "not restorable" in purged["message"]
    assert conversations.keys() == others

    await purging.decide(ref, "gdpr notification", False, "test data only")
    await purging.wait_for(ref, "playbook.finished")
    [row] = purging.actions("purge_memory")
    assert (row.status, row.attempts, row.verified, row.reversible) == (
        "completed",
        1,
        True,
        False,
    )
    assert row.before["keys"] == 2 and row.after["keys"] == 2

    # No purge by hand left; the report keeps the row, never the leaked values.
    assert not [f for f in await follow_ups(purging, ref) if "memory" in f]
    markdown = await purging.report(ref, "md")
    assert "| purge_memory | support-bot/session:sess_01HZX3K9,user:u-1842 | redis |" in markdown
    assert_redacted(markdown)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_denied_the_memory_stays_and_the_report_says_so(
    purging: Responder, conversations: Conversations
) -> None:
    mine, others = seed(conversations)
    ref = await purging.send(leak_alert())

    await purging.decide(ref, "purge memory", False, "legal hold on the conversation")
    await purging.decide(ref, "gdpr notification", False, "test data only")
    await purging.wait_for(ref, "playbook.finished")
    assert conversations.keys() == mine | others
    assert purging.actions("purge_memory") == []
    [left] = [f for f in await follow_ups(purging, ref) if f.startswith(BY_HAND)]
    assert "the purge was denied by operator" in left


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_not_configured_nobody_is_asked_and_the_report_says_so(
    responder: Responder,
) -> None:
    ref = await responder.send(leak_alert())
    await responder.decide(ref, "gdpr notification", False, "test data only")
    await responder.wait_for(ref, "playbook.finished")
    approvals = [e for e in await responder.timeline(ref) if e["kind"] == "approval.requested"]
    assert [e["step"] for e in approvals] == ["gdpr notification"]
    [left] = [f for f in await follow_ups(responder, ref) if f.startswith(BY_HAND)]
    assert "no [memory.support-bot] is configured" in left
