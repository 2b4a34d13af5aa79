"""Durable approvals written with the SDK, on real Temporal servers.

Updates (validator checks before history) on the dev server; escalation and timeouts on
the time-skipping server, answered by signal.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from smokejumper.config import load_settings
from smokejumper.domain.incidents import (
    QUERY_STATE,
    SIGNAL_DECIDE,
    UPDATE_ABORT,
    UPDATE_DECIDE,
    UPDATE_RESTORE,
    AbortRequest,
    IncidentStart,
    IncidentState,
    RestoreRequest,
)
from smokejumper.sdk.approvals import DecisionRequest, VoteReceipt
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.tables import AuditEntry, TimelineEvent
from tests.helpers import eventually, insert_incident, start_playbook
from tests.sdk.sample_playbooks import FAKE_ACTION, FakeProvider, FourEyesIsolation
from workers.worker import activities_for, sandboxed_runner

GROUPS = {
    "oncall": ["alice", "bob", "carol"],
    "leads": ["dana"],
    "incident-commanders": ["alice", "erin"],
}


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


def new_incident(store: Store) -> IncidentStart:
    return insert_incident(
        store, playbook="test-four-eyes", kind="data_leakage", fingerprint=uuid.uuid4().hex
    )


async def start(
    client: Client, queue: str, incident: IncidentStart
) -> WorkflowHandle[FourEyesIsolation, IncidentState]:
    return await start_playbook(client, "test-four-eyes", incident, queue)


async def start_waiting_for(
    client: Client, queue: str, store: Store, step: str
) -> WorkflowHandle[FourEyesIsolation, IncidentState]:
    """Start the four-eyes playbook on a new incident; return once `step` awaits approval."""
    handle = await start(client, queue, new_incident(store))

    async def waiting() -> IncidentState | None:
        current = await state(handle)
        return current if current.pending_approvals == [step] else None

    await eventually(waiting)
    return handle


async def state(handle: WorkflowHandle[FourEyesIsolation, IncidentState]) -> IncidentState:
    result: IncidentState = await handle.query(QUERY_STATE, result_type=IncidentState)
    return result


def timeline(store: Store) -> list[str]:
    with store.session() as session:
        return [e.kind for e in session.query(TimelineEvent).order_by(TimelineEvent.id)]


@pytest_asyncio.fixture
async def running(
    temporal_env: WorkflowEnvironment, store: Store
) -> AsyncIterator[tuple[Client, str, FakeProvider]]:
    settings = load_settings(approvers=GROUPS)
    provider = FakeProvider()
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=[FourEyesIsolation],
        activities=[*activities_for(store, settings), provider.action, provider.undo],
        workflow_runner=sandboxed_runner(),
    ):
        yield temporal_env.client, queue, provider


async def audited(store: Store, expected: int) -> list[tuple[str, str]] | None:
    with store.session() as session:
        entries = [(e.action, e.actor) for e in session.query(AuditEntry).order_by(AuditEntry.id)]
    return entries if len(entries) >= expected else None


async def decided_on_timeline(store: Store) -> list[str] | None:
    kinds = timeline(store)
    return (
        kinds if any(kind in kinds for kind in ("approval.approved", "approval.denied")) else None
    )


def vote(step: str, actor: str, approve: bool = True, reason: str = "") -> DecisionRequest:
    return DecisionRequest(step=step, actor=actor, approve=approve, reason=reason, via="test")


async def refused(
    handle: WorkflowHandle[FourEyesIsolation, IncidentState], request: DecisionRequest
) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(UPDATE_DECIDE, request, result_type=VoteReceipt)
    return str(caught.value.cause)


async def test_four_eyes_approval_with_every_refusal(
    running: tuple[Client, str, FakeProvider], store: Store
) -> None:
    client, queue, provider = running
    handle = await start_waiting_for(client, queue, store, "isolate")
    assert provider.calls == [("do", "snapshot")]

    assert "no approval is pending for step 'nope'" in await refused(handle, vote("nope", "alice"))
    assert "mallory is not an approver" in await refused(handle, vote("isolate", "mallory"))
    assert "dana is not an approver" in await refused(handle, vote("isolate", "dana"))
    requester = "playbook:test-four-eyes"
    assert "cannot approve their own request" in await refused(handle, vote("isolate", requester))

    first = await handle.execute_update(
        UPDATE_DECIDE, vote("isolate", "alice", reason="ok"), result_type=VoteReceipt
    )
    assert (first.recorded, first.decision, first.approvals_missing) == (True, None, 1)
    assert "alice has already answered" in await refused(handle, vote("isolate", "alice"))

    second = await handle.execute_update(
        UPDATE_DECIDE, vote("isolate", "bob"), result_type=VoteReceipt
    )
    assert second.decision is not None
    assert second.decision.outcome == "approved"
    assert second.decision.decided_by == ["alice", "bob"]
    assert "already decided" in await refused(handle, vote("isolate", "carol"))

    async def isolated() -> list[tuple[str, str]] | None:
        return provider.calls if ("do", "isolate") in provider.calls else None

    await eventually(isolated)
    # The deciding vote's entries are written alongside the step it released.
    entries = await eventually(lambda: audited(store, 3))
    kinds = await eventually(lambda: decided_on_timeline(store))
    assert kinds.count("approval.vote") == 2
    assert kinds.index("approval.requested") < kinds.index("approval.approved")
    assert max(i for i, kind in enumerate(kinds) if kind == "approval.vote") < kinds.index(
        "approval.approved"
    )
    # Refused decisions never reached the workflow's history or the timeline.
    assert "approval.refused" not in kinds
    assert entries == [
        ("approval.approved", "alice"),
        ("approval.approved", "bob"),
        ("approval.decision.approved", "alice, bob"),
    ]
    assert audit.verify(store) == (3, [])
    await handle.terminate("test finished")


async def test_the_deciding_vote_is_written_just_after_the_step_it_releases(
    running: tuple[Client, str, FakeProvider], store: Store
) -> None:
    """The update answers once the vote is counted, in the workflow task that schedules the
    released step; the vote's timeline and audit entries are activities of the next task,
    and the step's start an activity beside it: none is a store write the step waited for."""
    client, queue, provider = running
    handle = await start_waiting_for(client, queue, store, "isolate")
    await handle.execute_update(UPDATE_DECIDE, vote("isolate", "alice"), result_type=VoteReceipt)
    receipt = await handle.execute_update(
        UPDATE_DECIDE, vote("isolate", "bob"), result_type=VoteReceipt
    )
    assert receipt.decision is not None and receipt.decision.outcome == "approved"

    async def isolated() -> list[tuple[str, str]] | None:
        return provider.calls if ("do", "isolate") in provider.calls else None

    await eventually(isolated)
    entries = await eventually(lambda: audited(store, 3))
    assert [action for action, _ in entries] == [
        "approval.approved",
        "approval.approved",
        "approval.decision.approved",
    ]
    kinds = await eventually(lambda: decided_on_timeline(store))
    assert kinds.count("approval.vote") == 2

    events = list((await handle.fetch_history()).events)
    answered = max(
        i
        for i, event in enumerate(events)
        if event.HasField("workflow_execution_update_completed_event_attributes")
    )
    begun = max(
        i
        for i, event in enumerate(events[:answered])
        if event.HasField("workflow_task_completed_event_attributes")
    )
    ended = next(
        i
        for i, event in enumerate(events)
        if i > answered and event.HasField("workflow_task_scheduled_event_attributes")
    )

    def scheduled(span: list[HistoryEvent]) -> list[str]:
        return [
            event.activity_task_scheduled_event_attributes.activity_type.name
            for event in span
            if event.HasField("activity_task_scheduled_event_attributes")
        ]

    deciding_task = events[begun:ended]
    # The released step and its `step.started` entry are scheduled together: no store
    # write (a local activity, a marker in the history) held the task.
    assert sorted(scheduled(deciding_task)) == sorted([FAKE_ACTION.name, "record_timeline_event"])
    assert not any(event.HasField("marker_recorded_event_attributes") for event in deciding_task)
    assert {"record_timeline_event", "record_audit"} <= set(scheduled(events[ended:]))
    # As the console shows it: the votes and the decision, then the step they released.
    with store.session() as session:
        shown = [
            (e.kind, e.step)
            for e in session.query(TimelineEvent).order_by(TimelineEvent.at, TimelineEvent.id)
        ]
    asked = shown.index(("approval.requested", "isolate"))
    assert shown[asked + 1 : asked + 6] == [
        ("approval.vote", "isolate"),
        ("approval.vote", "isolate"),
        ("approval.approved", "isolate"),
        ("step.started", "isolate"),
        ("step.completed", "isolate"),
    ]
    await handle.terminate("test finished")


async def test_a_single_deny_decides_and_skips_the_step(
    running: tuple[Client, str, FakeProvider], store: Store
) -> None:
    client, queue, provider = running
    handle = await start_waiting_for(client, queue, store, "isolate")
    receipt = await handle.execute_update(
        UPDATE_DECIDE,
        vote("isolate", "carol", approve=False, reason="false positive"),
        result_type=VoteReceipt,
    )
    assert receipt.decision is not None
    assert (receipt.decision.outcome, receipt.decision.reason) == ("denied", "false positive")

    async def finished() -> list[str] | None:
        kinds = timeline(store)
        # The denial's entries are written alongside what the playbook does next.
        return kinds if {"playbook.finished", "approval.denied"} <= set(kinds) else None

    kinds = await eventually(finished)
    assert kinds.index("approval.vote") < kinds.index("approval.denied")
    assert ("do", "isolate") not in provider.calls
    await handle.terminate("test finished")


async def test_escalation_then_timeout_aborts_and_undoes(
    time_skipping_env: WorkflowEnvironment, store: Store
) -> None:
    settings = load_settings(approvers=GROUPS)
    provider = FakeProvider()
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    client = time_skipping_env.client
    async with Worker(
        client,
        task_queue=queue,
        workflows=[FourEyesIsolation],
        activities=[*activities_for(store, settings), provider.action, provider.undo],
        workflow_runner=sandboxed_runner(),
    ):
        handle = await start(client, queue, new_incident(store))
        # dana (a lead) is not asked yet: her signal is refused and recorded as such.
        await handle.signal(SIGNAL_DECIDE, vote("isolate", "dana"))
        await time_skipping_env.sleep(timedelta(minutes=16))
        await handle.signal(SIGNAL_DECIDE, vote("isolate", "dana"))
        await time_skipping_env.sleep(timedelta(minutes=50))

        async def aborted() -> list[str] | None:
            kinds = timeline(store)
            return kinds if "playbook.aborted" in kinds and "step.completed" in kinds[-1:] else None

        kinds = await eventually(aborted)
        # A decision after the timeout is refused, and says why.
        await handle.signal(SIGNAL_DECIDE, vote("isolate", "alice"))

        async def late() -> list[str] | None:
            refusals = [
                e.message
                for e in _events(store)
                if e.kind == "approval.refused" and e.actor == "alice"
            ]
            return refusals or None

        refusals = await eventually(late)
        assert "already decided (timed_out)" in refusals[0]
        await handle.terminate("test finished")

    assert kinds.index("approval.refused") < kinds.index("approval.escalated")
    assert kinds.count("approval.vote") == 1  # dana, after escalation; one of two needed
    assert "approval.timed_out" in kinds
    assert provider.calls == [("do", "snapshot"), ("undo", "snapshot")]


async def test_abort_while_waiting_undoes_completed_steps(
    running: tuple[Client, str, FakeProvider], store: Store
) -> None:
    client, queue, provider = running
    handle = await start_waiting_for(client, queue, store, "isolate")
    after = await handle.execute_update(
        UPDATE_ABORT, AbortRequest(actor="alice", reason="wrong model"), result_type=IncidentState
    )
    assert after.steps_done == ["snapshot", "undo snapshot"]
    assert provider.calls == [("do", "snapshot"), ("undo", "snapshot")]
    with pytest.raises(WorkflowUpdateFailedError) as again:
        await handle.execute_update(UPDATE_ABORT, AbortRequest(actor="bob"))
    assert "already finished" in str(again.value.cause)
    kinds = timeline(store)
    assert "playbook.aborted" in kinds
    assert "playbook.finished" not in kinds
    await handle.terminate("test finished")


async def test_unknown_approver_group_fails_the_playbook_not_the_engine(
    temporal_env: WorkflowEnvironment, store: Store
) -> None:
    provider = FakeProvider()
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    # No approver groups configured: "group:oncall" cannot resolve.
    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=[FourEyesIsolation],
        activities=[*activities_for(store, load_settings()), provider.action, provider.undo],
        workflow_runner=sandboxed_runner(),
    ):
        handle = await start(temporal_env.client, queue, new_incident(store))

        async def undone() -> list[str] | None:
            kinds = timeline(store)
            return (
                kinds if "playbook.failed" in kinds and kinds.count("step.completed") == 2 else None
            )

        kinds = await eventually(undone)
        assert provider.calls == [("do", "snapshot"), ("undo", "snapshot")]
        with store.session() as session:
            failure = session.query(TimelineEvent).filter_by(kind="playbook.failed").one()
            assert "approver group 'oncall' is not configured" in failure.message
        assert kinds.index("playbook.failed") < len(kinds) - 1  # the undo came after
        await handle.terminate("test finished")


async def test_restore_after_the_playbook_needs_someone_else_to_approve(
    running: tuple[Client, str, FakeProvider], store: Store
) -> None:
    client, queue, provider = running
    handle = await start_waiting_for(client, queue, store, "isolate")
    await handle.execute_update(
        UPDATE_DECIDE, vote("isolate", "carol", approve=False), result_type=VoteReceipt
    )

    async def finished() -> list[str] | None:
        kinds = timeline(store)
        return kinds if "playbook.finished" in kinds else None

    await eventually(finished)
    restoring = await handle.start_update(
        UPDATE_RESTORE,
        RestoreRequest(actor="alice", reason="false positive"),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        result_type=IncidentState,
    )
    with pytest.raises(WorkflowUpdateFailedError) as twice:
        await handle.execute_update(UPDATE_RESTORE, RestoreRequest(actor="bob"))
    assert "already waiting for approval" in str(twice.value.cause)

    async def asked() -> IncidentState | None:
        current = await state(handle)
        return current if current.pending_approvals == ["restore"] else None

    await eventually(asked)
    assert "cannot approve their own request" in await refused(handle, vote("restore", "alice"))
    await handle.execute_update(UPDATE_DECIDE, vote("restore", "erin"), result_type=VoteReceipt)
    after = await restoring.result()
    assert after.pending_approvals == []
    assert provider.calls == [("do", "snapshot"), ("undo", "snapshot")]
    assert "playbook.restoring" in timeline(store)
    await handle.terminate("test finished")


def _events(store: Store) -> list[TimelineEvent]:
    with store.session() as session:
        return session.query(TimelineEvent).order_by(TimelineEvent.id).all()
