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
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
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
