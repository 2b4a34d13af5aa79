"""A child playbook's approvals are answered where responders answer: the incident's own
workflow, its parent, which lists them, checks votes with the same rules and passes them on.

Through the real API on the dev server; the timeout on the time-skipping server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from integrations.evidence.checkpoints import head_checkpoints
from smokejumper.config import load_settings
from smokejumper.domain.incidents import QUERY_STATE, SIGNAL_DECIDE, UPDATE_DECIDE, IncidentState
from smokejumper.sdk.approvals import DecisionRequest, VoteReceipt
from smokejumper.security.operator import operator_token
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.open import open_store
from smokejumper.store.tables import TimelineEvent
from tests.engine import serve_api
from tests.helpers import eventually, insert_incident, make_settings, start_playbook
from tests.sdk.sample_playbooks import (
    AskThroughChild,
    AskThroughGrandchild,
    ChildAsks,
    FakeProvider,
    SameStepAsChild,
)
from tests.test_end_to_end import example
from workers.worker import activities_for, sandboxed_runner

PARENT = "test-ask-through-child"
CHILD = "test-child-asks"
GROUPS = {"oncall": ["operator", "bob"], "leads": ["dana"]}


@dataclass
class Engine:
    client: Client
    http: httpx.AsyncClient
    store: Store
    provider: FakeProvider


@pytest_asyncio.fixture
async def engine(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Engine]:
    settings = make_settings(
        tmp_path,
        database_url,
        temporal_env.client.service_client.config.target_host,
        approvers=GROUPS,
        routes=[{"playbook": PARENT, "kinds": ["prompt_injection"]}],
    )
    upgrade(settings.effective_database_url)
    store = open_store(settings, head_checkpoints(settings))
    provider = FakeProvider()
    worker = Worker(
        temporal_env.client,
        task_queue=settings.temporal.task_queue,
        workflows=[AskThroughChild, ChildAsks],
        activities=[*activities_for(store, settings), provider.action],
        workflow_runner=sandboxed_runner(),
    )
    auth = {"authorization": f"Bearer {operator_token(settings, create=True)}"}
    try:
        async with (
            worker,
            serve_api(settings, store),
            httpx.AsyncClient(base_url=settings.api_url, headers=auth, timeout=30) as http,
        ):
            yield Engine(temporal_env.client, http, store, provider)
    finally:
        store.dispose()


def vote(actor: str, approve: bool = True) -> DecisionRequest:
    return DecisionRequest(step="purge", approve=approve, actor=actor, via="test")


async def refused(handle: WorkflowHandle[Any, Any], request: DecisionRequest) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(UPDATE_DECIDE, request, result_type=VoteReceipt)
    return str(caught.value.cause)


def timeline(store: Store) -> list[tuple[str, str | None, str]]:
    with store.session() as session:
        events = session.query(TimelineEvent).order_by(TimelineEvent.id)
        return [(e.kind, e.step, e.actor) for e in events]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_childs_approval_is_listed_checked_and_answered_at_the_incident(
    engine: Engine,
) -> None:
    accepted = await engine.http.post(
        "/api/v1/alerts", json=example(kind="prompt_injection", dedup_key=uuid.uuid4().hex)
    )
    assert accepted.status_code == 202, accepted.text
    ref = accepted.json()["incident_id"]
    parent = engine.client.get_workflow_handle(accepted.json()["workflow_id"])
    child = engine.client.get_workflow_handle(f"{parent.id}-asks")

    async def listed() -> dict[str, Any] | None:
        live = (await engine.http.get(f"/api/v1/incidents/{ref}")).json()["live"]
        return live if live and live["pending_approvals"] == ["purge"] else None

    await eventually(listed)

    # The incident's workflow refuses exactly what the child itself would refuse.
    for request in (vote("mallory"), vote(f"playbook:{CHILD}")):
        at_parent = await refused(parent, request)
        assert at_parent == await refused(child, request)
    assert "mallory is not an approver for step 'purge'" in await refused(parent, vote("mallory"))
    own = await refused(parent, vote(f"playbook:{CHILD}"))
    assert "a requester cannot approve their own request" in own
    assert "no approval is pending for step 'nope'" in await refused(
        parent, DecisionRequest(step="nope", approve=True, actor="bob")
    )

    answered = await engine.http.post(
        f"/api/v1/incidents/{ref}/approvals/purge", json={"approve": True, "reason": "PII"}
    )
    assert answered.status_code == 200, answered.text
    receipt = VoteReceipt.model_validate(answered.json())
    assert receipt.forwarded_to == child.id
    assert receipt.recorded and receipt.approvals_missing == 0
    assert receipt.decision is not None and receipt.decision.decided_by == ["operator"]

    async def handed_back() -> list[tuple[str, str | None, str]] | None:
        events = timeline(engine.store)
        return events if ("handoff.done", None, f"playbook:{PARENT}") in events else None

    events = await eventually(handed_back)
    assert engine.provider.calls == [("do", "capture"), ("do", "purge")]
    # The child recorded the vote and the decision, once.
    assert events.count(("approval.vote", "purge", "operator")) == 1
    assert [e for e in events if e[0] == "approval.approved"] == [
        ("approval.approved", "purge", "operator")
    ]
    assert "approval.refused" not in [kind for kind, _, _ in events]
    live = (await engine.http.get(f"/api/v1/incidents/{ref}")).json()["live"]
    assert live["pending_approvals"] == []
    # Already decided: the parent refuses a late vote as the child would have.
    assert "already decided (approved)" in await refused(parent, vote("bob"))
    await parent.terminate("test finished")


async def test_a_timeout_in_the_child_takes_it_off_the_parents_list(
    time_skipping_env: WorkflowEnvironment, sqlite_store: Store
) -> None:
    store = sqlite_store
    provider = FakeProvider()
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    client = time_skipping_env.client
    async with Worker(
        client,
        task_queue=queue,
        workflows=[AskThroughChild, ChildAsks],
        activities=[*activities_for(store, load_settings(approvers=GROUPS)), provider.action],
        workflow_runner=sandboxed_runner(),
    ):
        parent = await start_playbook(
            client, PARENT, insert_incident(store, playbook=PARENT), queue
        )

        async def state() -> IncidentState:
            current: IncidentState = await parent.query(QUERY_STATE, result_type=IncidentState)
            return current

        async def listed() -> IncidentState | None:
            current = await state()
            return current if current.pending_approvals == ["purge"] else None

        await eventually(listed)
        # A vote by signal at the parent is checked there too: refused, and said so.
        await parent.signal(SIGNAL_DECIDE, vote("mallory"))
        await time_skipping_env.sleep(timedelta(hours=2))

        async def handed_back() -> list[tuple[str, str | None, str]] | None:
            events = timeline(store)
            return events if ("handoff.done", None, f"playbook:{PARENT}") in events else None

        events = await eventually(handed_back)
        assert (await state()).pending_approvals == []
        await parent.signal(SIGNAL_DECIDE, vote("bob"))

        async def late() -> list[str] | None:
            with store.session() as session:
                found = session.query(TimelineEvent).filter_by(kind="approval.refused").all()
                messages = [e.message for e in found if e.actor == "bob"]
            return messages or None

        assert "step 'purge' was already decided (timed_out)" in (await eventually(late))[0]
        await parent.terminate("test finished")

    kinds = [kind for kind, _, _ in events]
    assert ("approval.refused", "purge", "mallory") in events
    assert kinds.index("approval.timed_out") < kinds.index("handoff.done")
    assert "approval.vote" not in kinds
    assert provider.calls == [("do", "capture")]


async def test_a_grandchilds_approval_is_answered_at_the_incident_too(
    time_skipping_env: WorkflowEnvironment, sqlite_store: Store
) -> None:
    store = sqlite_store
    provider = FakeProvider()
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    client = time_skipping_env.client
    top = "test-ask-through-grandchild"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[AskThroughGrandchild, AskThroughChild, ChildAsks],
        activities=[*activities_for(store, load_settings(approvers=GROUPS)), provider.action],
        workflow_runner=sandboxed_runner(),
    ):
        incident = await start_playbook(client, top, insert_incident(store, playbook=top), queue)

        async def listed() -> IncidentState | None:
            current = await incident.query(QUERY_STATE, result_type=IncidentState)
            return current if current.pending_approvals == ["purge"] else None

        await eventually(listed)
        await incident.signal(SIGNAL_DECIDE, vote("bob"))

        async def done() -> list[tuple[str, str | None, str]] | None:
            events = timeline(store)
            return events if ("grandchild.done", None, f"playbook:{top}") in events else None

        events = await eventually(done)
        await incident.terminate("test finished")
    assert ("approval.approved", "purge", "bob") in events
    assert provider.calls == [("do", "capture"), ("do", "purge")]


async def test_the_parents_own_step_of_the_same_name_takes_precedence(
    time_skipping_env: WorkflowEnvironment, sqlite_store: Store
) -> None:
    store = sqlite_store
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    client = time_skipping_env.client
    top = "test-same-step-as-child"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[SameStepAsChild, ChildAsks],
        activities=[*activities_for(store, load_settings(approvers=GROUPS)), FakeProvider().action],
        workflow_runner=sandboxed_runner(),
    ):
        incident = await start_playbook(client, top, insert_incident(store, playbook=top), queue)

        async def both_asked() -> list[tuple[str, str | None, str]] | None:
            events = timeline(store)
            asked = [actor for kind, _, actor in events if kind == "approval.requested"]
            return events if sorted(asked) == [f"playbook:{CHILD}", f"playbook:{top}"] else None

        await eventually(both_asked)
        assert (await incident.query(QUERY_STATE, result_type=IncidentState)).pending_approvals == [
            "purge"
        ]
        # bob may approve the child's purge, not the parent's: the parent's own is meant.
        await incident.signal(SIGNAL_DECIDE, vote("bob"))
        await incident.signal(SIGNAL_DECIDE, vote("dana"))

        async def decided() -> list[tuple[str, str | None, str]] | None:
            events = timeline(store)
            return events if ("approval.approved", "purge", "dana") in events else None

        events = await eventually(decided)
        await incident.terminate("test finished")
    assert ("approval.refused", "purge", "bob") in events
    assert [event for event in events if event[0] == "approval.vote"] == [
        ("approval.vote", "purge", "dana")
    ]
