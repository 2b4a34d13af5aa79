"""SIGKILL the worker in the middle of a playbook and start another: the playbook finishes
and every side effect at the providers happened exactly once."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from smokejumper.contracts.keys import KEYS_IN_A_BATCH, KEYS_ONE_BY_ONE, batch_step
from smokejumper.store.db import Store
from tests.faults.conftest import FAULT_PLAYBOOKS, FAULT_ROUTE, Iam, api_only, worker_process
from tests.helpers import make_settings


async def resumed_after(env: WorkflowEnvironment, workflow_id: str) -> list[timedelta]:
    """For each activity that needed a second attempt: the time from its scheduling to the
    start of the attempt that finished it."""
    scheduled: dict[int, datetime] = {}
    delays: list[timedelta] = []
    async for event in env.client.get_workflow_handle(workflow_id).fetch_history_events():
        when = event.event_time.ToDatetime()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.event_id] = when
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            if started.attempt > 1:
                delays.append(when - scheduled[started.scheduled_event_id])
    return delays


def on_disk(path: Path, section: str, name: str) -> dict[str, object]:
    record: dict[str, object] = json.loads(path.read_text())[section][name]
    return record


@pytest.mark.slow
async def test_killed_worker_mid_playbook_finishes_with_each_side_effect_once(
    tmp_path: Path, sqlite_url: str, temporal_env: WorkflowEnvironment, iam: Iam
) -> None:
    settings = make_settings(
        tmp_path,
        sqlite_url,
        temporal_env.client.service_client.config.target_host,
        playbook_dirs=[FAULT_PLAYBOOKS],
        routes=[FAULT_ROUTE],
        containment={"aws_endpoint_url": iam.endpoint_url},
    )
    local_key = f"sk-local-{uuid.uuid4().hex[:8]}"
    aws_key, _ = iam.access_key()
    keys = LocalKeys(settings.local_keys_file)
    keys.create(local_key)
    LocalEndpoints(settings.local_endpoints_file).create(local_key)

    async with api_only(settings) as api:
        with worker_process(settings, tmp_path / "worker-1.log") as first:
            accepted = await api.alert(title=f"{local_key} {aws_key}", principal={"user": "kill"})
            # The first side effect has just happened: the worker is inside the playbook,
            # between the local revocation's provider call and the rest.
            while keys.state(local_key).status != "inactive":
                assert first.poll() is None, "the worker died on its own"
                await asyncio.sleep(0.001)
            first.send_signal(signal.SIGKILL)
            first.wait()
        revoked_once = on_disk(settings.local_keys_file, "keys", local_key)

        with worker_process(settings, tmp_path / "worker-2.log"):
            events = await api.wait_for(accepted["incident_id"], "playbook.finished", within=120)

    kinds = [event["kind"] for event in events]
    assert "playbook.failed" not in kinds
    assert kinds.count("step.completed") == 3
    # Each step's start (written beside its activity, by an activity of its own, and so
    # retried by the second worker like the step) is on the timeline once, before its end.
    for step in {event["step"] for event in events if event["kind"] == "step.completed"}:
        own = [event["kind"] for event in events if event["step"] == step]
        assert own.count("step.started") == 1, (step, own)
        assert own.index("step.started") < own.index("step.completed"), (step, own)
    # The killed worker's step was attempted again within 30 s of being scheduled, by the
    # server's own clock (its history), not after a five-minute timeout.
    resumed = await resumed_after(temporal_env, accepted["workflow_id"])
    assert resumed and all(delay < timedelta(seconds=30) for delay in resumed), resumed
    # Exactly once at each provider: one UpdateAccessKey received by the IAM server, the
    # local key written once (its change time is the first write's), one isolation.
    assert iam.calls("UpdateAccessKey", aws_key) == 1
    assert iam.status(aws_key) == "Inactive"
    assert on_disk(settings.local_keys_file, "keys", local_key) == revoked_once
    assert LocalEndpoints(settings.local_endpoints_file).state(local_key).status == "isolated"
    with api.store.session() as session:
        rows = session.execute(
            __import__("sqlalchemy").text("SELECT action, target, status FROM actions")
        ).all()
    assert sorted(rows) == sorted(
        [
            ("revoke_key", local_key, "completed"),
            ("revoke_key", aws_key, "completed"),
            ("isolate_endpoint", local_key, "completed"),
        ]
    )


@pytest.mark.slow
async def test_killed_worker_mid_batch_another_finishes_the_keys_each_revoked_once(
    tmp_path: Path, sqlite_url: str, temporal_env: WorkflowEnvironment, iam: Iam
) -> None:
    """A dumped credentials file: the built-in leak playbook revokes its keys past the
    first KEYS_ONE_BY_ONE in one batch step. SIGKILL the worker while that batch is part
    done: another worker takes the batch over within its heartbeat timeout, finishes the
    keys not yet done, and calls IAM once per key."""
    settings = make_settings(
        tmp_path,
        sqlite_url,
        temporal_env.client.service_client.config.target_host,
        containment={"aws_endpoint_url": iam.endpoint_url},
    )
    keys = [iam.access_key()[0] for _ in range(KEYS_ONE_BY_ONE + KEYS_IN_A_BATCH)]
    dump = "\n".join(f"aws_access_key_id = {key_id}" for key_id in keys)
    batch = batch_step(sorted(keys)[KEYS_ONE_BY_ONE:], KEYS_ONE_BY_ONE + 1, len(keys))

    def revoked(store: Store) -> int:
        with store.session() as session:
            done = session.scalar(
                text(
                    "SELECT count(*) FROM actions WHERE action = 'revoke_key' "
                    "AND status = 'completed'"
                )
            )
        return int(done or 0)

    async with api_only(settings) as api:
        with worker_process(settings, tmp_path / "worker-1.log") as first:
            accepted = await api.alert(
                kind="data_leakage",
                severity="high",
                title="Credentials in support-bot output",
                principal={"user": "u-dump"},
                evidence={"prompt": "Summarise the ticket", "response": dump},
            )
            # Past the one-by-one keys, short of the whole batch: inside the batch step.
            while revoked(api.store) < KEYS_ONE_BY_ONE + 10:
                assert first.poll() is None, "the worker died on its own"
                await asyncio.sleep(0.005)
            first.send_signal(signal.SIGKILL)
            first.wait()
        at_the_kill = revoked(api.store)
        assert at_the_kill < len(keys), "the batch ended before the worker was killed"

        with worker_process(settings, tmp_path / "worker-2.log"):
            events = await api.wait_for(accepted["incident_id"], "playbook.finished", within=120)

    for key_id in keys:
        assert iam.status(key_id) == "Inactive", key_id
    calls = iam.call_counts("UpdateAccessKey")
    assert {key_id: calls[key_id] for key_id in keys} == {key_id: 1 for key_id in keys}
    with api.store.session() as session:
        rows = session.execute(
            text("SELECT target, status, verified FROM actions WHERE action = 'revoke_key'")
        ).all()
    assert sorted(row.target for row in rows) == sorted(keys)
    assert {(row.status, bool(row.verified)) for row in rows} == {("completed", True)}

    own = [event["kind"] for event in events if event["step"] == batch]
    assert own.count("step.started") == 1 and own.count("step.completed") == 1, own
    assert "playbook.failed" not in [event["kind"] for event in events]
    # Taken over within the batch's heartbeat timeout (10 s), by the server's own clock.
    resumed = await resumed_after(temporal_env, accepted["workflow_id"])
    assert resumed and all(delay < timedelta(seconds=30) for delay in resumed), resumed
