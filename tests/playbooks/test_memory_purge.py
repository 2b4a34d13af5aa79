"""`sensitive-data-leakage` purging the leaking conversation's memory, end to end: alert over
HTTP → containment → the security on-call answers in Slack (or over HTTP) → the
application's Redis keys of that conversation are gone, exactly once; denied or not
configured, they stay and the report says to purge by hand."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from integrations.slack.emulator import SlackEmulator
from playbooks.data_leakage import PURGE_DECIDE_WITHIN, SensitiveDataLeakage
from smokejumper.domain.alerts import Alert
from smokejumper.sdk import Choice
from testkit import FakeProvider, make_alert
from testkit.pytest_plugin import HarnessFactory
from tests.integrations.memory.conftest import Conversations, conversations
from tests.playbooks.conftest import APPROVERS, LEAKED_KEY, OPERATOR, Responder, responder_on
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
    slack_emulator: SlackEmulator,
) -> AsyncIterator[Responder]:
    """The engine with support-bot's memory in Redis: LangChain histories per session and
    an LLM cache per user; and Slack, where approvals can also be answered."""
    memory = {
        "support-bot": {
            "url": conversations.url,
            "key_patterns": [
                conversations.key("message_store:{session}"),
                conversations.key("llmcache:{user}:*"),
            ],
        }
    }
    async with responder_on(
        tmp_path, database_url, temporal_env, slack=slack_emulator, memory=memory
    ) as running:
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

    # Preserved before anyone is asked to destroy it: the entries, values included, are
    # evidence (redacted preview for everyone, raw for responders), its hash on the card.
    kept = await purging.wait_for(ref, "memory.kept", step="keep memory snapshot")
    assert kept["data"]["keys"] == 2
    digest = kept["data"]["sha256"]
    [snapshot] = [e for e in purging.evidence() if e.name == "memory-before-purge"]
    assert snapshot.sha256 == digest and snapshot.kind == "conversation_memory"
    assert LEAKED_KEY not in (snapshot.redacted_preview or "")
    raw = await purging.engine.http.get(f"/api/v1/incidents/{ref}/evidence/{snapshot.id}/raw")
    assert raw.status_code == 200, raw.text
    entries = {e["key"]: e["value"] for e in json.loads(raw.text)["entries"]}
    assert set(entries) == mine
    assert f"The key is {LEAKED_KEY}" in json.dumps(entries)
    _, card = await purging.approval_message(ref, "purge memory")
    assert f"sha256:{digest[:12]}" in json.dumps(card)

    await purging.approve_in_slack(ref, "purge memory", OPERATOR)
    purged = await purging.wait_for(ref, "memory.purged")
    assert "Purged 2 of 2" in purged["message"] and "not restorable" in purged["message"]
    assert conversations.keys() == others
    approved = await purging.decided_in_slack(ref, "purge memory")
    assert f"Approved by <@{OPERATOR}> at " in approved

    await purging.deny_in_slack(ref, "gdpr notification", "test data only", OPERATOR)
    await purging.wait_for(ref, "playbook.finished")
    [row] = purging.actions("purge_memory")
    assert (row.status, row.attempts, row.verified, row.reversible) == (
        "completed",
        1,
        True,
        False,
    )
    assert row.before["keys"] == 2 and row.after["keys"] == 2
    assert row.after["details"]["kept_sha256"] == digest

    # No purge by hand left; the report keeps the row, never the leaked values.
    assert not [f for f in await follow_ups(purging, ref) if "memory" in f]
    markdown = await purging.report(ref, "md")
    # The target Markdown-escaped, as every cell of outside text is (`_` may start emphasis).
    row_md = r"| purge_memory | support-bot/session:sess\_01HZX3K9,user:u-1842 | redis |"
    assert row_md in markdown
    assert_redacted(markdown)
    assert purging.slack_leaks() == []


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
    # The leaked database password's hand-off is the only other question.
    assert sorted(e["step"] for e in approvals) == [
        "gdpr notification",
        "rotate leaked credentials not done",
    ]
    [left] = [f for f in await follow_ups(responder, ref) if f.startswith(BY_HAND)]
    assert "no [memory.support-bot] is configured" in left


# -- unanswered, failed: on the time-skipping server, the purge's own activities faked ------

PLAN = {"configured": True, "application": "support-bot", "provider": "redis", "patterns": 2}


KEPT = {"keys": 2, "evidence_name": "memory-before-purge", "sha256": "ab" * 32, "size": 120}


def fake_memory() -> FakeProvider:
    return FakeProvider(
        "memory_purge_plan",
        "snapshot_memory",
        "purge_memory",
        results={"memory_purge_plan": PLAN, "snapshot_memory": KEPT},
    )


def conversation_leak() -> Alert:
    return make_alert(
        kind="data_leakage",
        principal={"user": "u-1842", "session_id": SESSION},
        target={"application": "support-bot"},
        evidence={"prompt": "who ordered last?", "response": "jane.doe@example.com did"},
    )


async def test_unanswered_nothing_is_purged_and_the_dpo_is_asked_next(
    playbook_harness: HarnessFactory,
) -> None:
    memory = fake_memory()
    harness = await playbook_harness(SensitiveDataLeakage, providers=[memory], approvers=APPROVERS)
    await harness.run(conversation_leak())
    await harness.wait_for_pending("purge memory")

    await harness.advance(PURGE_DECIDE_WITHIN + timedelta(seconds=1))
    await harness.wait_for_timeline("approval.timed_out", step="purge memory")
    left = await harness.wait_for_timeline("follow_up")
    assert left.message.startswith(BY_HAND) and "not answered in time" in left.message
    await harness.wait_for_pending("gdpr notification")
    assert [c.activity for c in memory.calls] == ["memory_purge_plan", "snapshot_memory"]


async def test_a_failed_purge_neither_fails_the_playbook_nor_undoes_anything(
    playbook_harness: HarnessFactory,
) -> None:
    memory = fake_memory()
    memory.fails("purge_memory", "redis memory of support-bot: access denied")
    harness = await playbook_harness(SensitiveDataLeakage, providers=[memory], approvers=APPROVERS)
    await harness.run(conversation_leak())
    await harness.approve("purge memory", as_="operator")
    state = await harness.wait_for_pending("purge conversation memory failed")
    assert state.missing == {
        "purge conversation memory": "redis memory of support-bot: access denied"
    }
    await harness.deny("gdpr notification", as_="operator", reason="test data only")
    await harness.wait_for_timeline("playbook.finished")
    timeline = harness.timeline()
    assert "playbook.failed" not in [item.kind for item in timeline]
    assert not [item for item in timeline if (item.step or "").startswith("undo ")]
    assert [c.activity for c in memory.calls] == [
        "memory_purge_plan",
        "snapshot_memory",
        "purge_memory",
    ]


async def test_no_snapshot_no_purge(playbook_harness: HarnessFactory) -> None:
    """Preserve before destroying: when the entries cannot be kept, nobody is asked to
    delete them, and the report says to do both by hand."""
    memory = fake_memory()
    memory.fails("snapshot_memory", "redis memory of support-bot: cannot reach the server")
    harness = await playbook_harness(SensitiveDataLeakage, providers=[memory], approvers=APPROVERS)
    await harness.run(conversation_leak())
    await harness.wait_for_pending("keep memory snapshot failed")
    await harness.answer(
        "keep memory snapshot failed", Choice.SKIP, as_="operator", note="redis is down"
    )
    left = await harness.wait_for_timeline("follow_up")
    assert left.message.startswith(BY_HAND) and "after keeping its entries" in left.message
    await harness.wait_for_pending("gdpr notification")
    assert "purge memory" not in [
        a.step for a in harness.timeline() if a.kind == "approval.requested"
    ]
    assert [c.activity for c in memory.calls] == ["memory_purge_plan", "snapshot_memory"]


async def test_nothing_in_the_store_nobody_is_asked(playbook_harness: HarnessFactory) -> None:
    memory = fake_memory()
    memory.returns("snapshot_memory", {"keys": 0})
    harness = await playbook_harness(SensitiveDataLeakage, providers=[memory], approvers=APPROVERS)
    await harness.run(conversation_leak())
    empty = await harness.wait_for_timeline("memory.empty")
    assert "holds no entries of session sess_01HZX3K9" in empty.message
    await harness.wait_for_pending("gdpr notification")
    assert [c.activity for c in memory.calls] == ["memory_purge_plan", "snapshot_memory"]
