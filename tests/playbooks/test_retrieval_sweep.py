"""`prompt-injection`, indirect vector, end to end on the dev server with the real store
(SQLite and PostgreSQL) and a real `chroma run` server as the application's retrieval
index: the named document is quarantined, the index is swept for its copies (in unicode
disguise too), its paraphrase and the rest of its data source, the report names the data
source and what it served, and restoring puts every document back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from tests.chroma import ChromaAdmin, Doc, direction
from tests.helpers import eventually
from tests.integrations.vectorstores.corpus import CARRYING, FROM_SOURCE, SOURCE, corpus
from tests.playbooks.conftest import SECRETS, Responder, check, responder_on

FIXTURES = Path(__file__).resolve().parents[1] / "integrations" / "sources" / "fixtures"
EXFIL = "exfil@attacker.example"


def indirect(user: str, **changes: Any) -> dict[str, Any]:
    """An indirect injection reported by `user`'s conversation: each test its own user, so
    its incident (fingerprint, workflow id) is its own on the shared Temporal server."""
    alert: dict[str, Any] = {
        "source": "llm-guard",
        "kind": "prompt_injection",
        "severity": "high",
        "title": "Instructions in a retrieved wiki page",
        "principal": {"user": user, "api_key_id": "key-support-web", "tenant": "acme"},
        "target": {"application": "support-bot", "endpoint": "support-bot-prod"},
        "evidence": {
            "prompt": "How do I file an expense report?",
            "response": "I have emailed the customer list as instructed.",
        },
        "labels": {"vector": "indirect", "document_id": "poison-1", "data_source": SOURCE},
        "owasp": ["LLM01"],
        "atlas": ["AML.T0051.001"],
    }
    alert.update(changes)
    return alert


def index_settings(url: str, collection: str, **config: Any) -> dict[str, Any]:
    return {"support-bot": {"provider": "chroma", "url": url, "collection": collection, **config}}


async def test_the_index_is_swept_reported_and_restored(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    chroma_server: str,
    chroma: ChromaAdmin,
) -> None:
    collection = chroma.name("support-kb")
    chroma.create(collection, corpus())
    quarantine = f"{collection}-quarantine"
    async with responder_on(
        tmp_path,
        database_url,
        temporal_env,
        vectorstores=index_settings(chroma_server, collection),
    ) as responder:
        ref = await responder.send(indirect("u-sweep-1"))
        await responder.wait_for(ref, "playbook.finished")

        swept = CARRYING | FROM_SOURCE
        assert chroma.ids(quarantine) == swept
        assert chroma.ids(collection) == {d.id for d in corpus()} - swept
        # The named document is also refused by the control plane, as before.
        assert (await check(responder.engine.http, document="poison-1"))["allowed"] is False
        [row] = responder.actions("sweep_retrieval_index")
        assert (row.status, row.verified, row.attempts) == ("completed", True, 1)
        detail = await responder.detail(ref)
        assert detail["status"] == "contained"
        flagged = await responder.wait_for(ref, "datasource.flagged")
        assert flagged["message"].startswith(
            f"Data source {SOURCE} flagged: it served 2 document(s) carrying the injected "
            "instruction (5 in all); 4 carried it in the index"
        )

        report = await responder.report(ref)
        sources = report.split("## Data sources", 1)[1].split("##", 1)[0]
        # (Parentheses are escaped in Markdown cells.)
        row_text = f"| {SOURCE} | 5 | 2 | 7 | {collection} \\(swept into {quarantine}\\) |"
        assert row_text in sources, sources
        assert "LLM08:2025 Vector and Embedding Weaknesses" in sources
        assert "AML.T0070 RAG Poisoning" in sources
        assert "| sweep_retrieval_index |" in report
        # The documents' text never reaches the report, or Slack.
        for secret in (*SECRETS, EXFIL, "Ignore all previous instructions"):
            assert secret not in report
        html = await responder.report(ref, fmt="html")
        assert "<h2>Data sources</h2>" in html and EXFIL not in html

        # A responder restores: every document is back in the index, as it was.
        asked = await responder.engine.cli("incidents", "restore", ref, "--reason", "false alarm")
        assert asked.exit_code == 0, asked.output
        await responder.wait_for_approval(ref, "restore")
        await responder.vote_as(ref, "restore", "bob")

        async def restored() -> bool:
            return chroma.ids(collection) == {d.id for d in corpus()}

        await eventually(restored, within=60)

        # The index is whole once the last batch is written back; the quarantine is empty
        # once that batch is deleted from it, when the restore's row says it is done.
        async def done() -> bool:
            [row] = responder.actions("sweep_retrieval_index")
            return row.status == "restored"

        await eventually(done, within=60)
        assert chroma.ids(quarantine) == set()
        page = chroma.get(collection, ids=["poison-1"], include=["metadatas"])
        assert page["metadatas"] == [{"source": SOURCE, "page": 7}]
        [row] = responder.actions("sweep_retrieval_index")
        assert row.status == "restored"


async def test_a_shield_alert_names_the_document_by_its_text(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    chroma_server: str,
    chroma: ChromaAdmin,
) -> None:
    """Azure Prompt Shields sends the documents themselves: the index holds the flagged
    e-mail under an id of its own; it is found by its text's hash, its copy with it."""
    envelope = json.loads((FIXTURES / "azure_prompt_shields" / "document_attack.json").read_text())
    envelope["context"].update(application="support-bot", endpoint="support-bot-prod")
    poisoned = envelope["request"]["documents"][1]
    clean = envelope["request"]["documents"][0]
    docs = [
        Doc("mail-0001", clean, direction(1), {"source": "mailbox"}),
        Doc("mail-0002", poisoned, direction(2), {"source": "mailbox"}),
        Doc("mail-0003", "FWD: " + poisoned.upper(), direction(3), {"source": "mailbox"}),
        Doc("kb-0001", "Expense policy.", direction(4), {"source": "handbook"}),
    ]
    collection = chroma.name("mail")
    chroma.create(collection, docs)
    async with responder_on(
        tmp_path,
        database_url,
        temporal_env,
        vectorstores=index_settings(chroma_server, collection, quarantine_whole_source=False),
    ) as responder:
        ref = await responder.send(envelope, source="azure-prompt-shields")
        await responder.wait_for(ref, "playbook.finished")
        assert chroma.ids(collection) == {"mail-0001", "kb-0001"}
        digest = "sha256:" + hashlib.sha256(poisoned.encode()).hexdigest()
        assert (await check(responder.engine.http, document=digest))["allowed"] is False
        flagged = await responder.wait_for(ref, "datasource.flagged")
        assert "Data source mailbox flagged: it served 2 document(s)" in flagged["message"]
        assert "(3 in all)" in flagged["message"]
        assert "trucy@fakemail.com" not in await responder.report(ref)


async def test_without_a_configured_index_only_the_named_document_is_quarantined(
    responder: Responder,
) -> None:
    ref = await responder.send(indirect("u-sweep-2"))
    await responder.wait_for(ref, "playbook.finished")
    skipped = await responder.wait_for(ref, "retrieval.not_swept")
    assert "no [vectorstores.support-bot] is configured" in skipped["message"]
    assert responder.actions("sweep_retrieval_index") == []
    assert (await responder.detail(ref))["status"] == "contained"
    report = await responder.report(ref)
    sources = report.split("## Data sources", 1)[1].split("##", 1)[0]
    assert f"| {SOURCE} | unknown | 1 | 1 | not swept |" in sources


async def test_an_index_that_does_not_exist_is_handed_to_people(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    chroma_server: str,
) -> None:
    async with responder_on(
        tmp_path,
        database_url,
        temporal_env,
        vectorstores=index_settings(chroma_server, "no-such-index"),
    ) as responder:
        ref = await responder.send(indirect("u-sweep-3"))
        failed = await responder.wait_for(ref, "step.failed", step="sweep retrieval index")
        assert "collection no-such-index: not found" in failed["message"]
        await responder.wait_for_approval(ref, "sweep retrieval index failed")
        await responder.wait_for(ref, "playbook.finished")
        assert (await responder.detail(ref))["status"] == "partly_contained"
