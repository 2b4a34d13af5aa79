"""A critical incident runs on the urgent task queue, which every worker serves with slots
of its own: a flood holding the main queue's slots cannot hold its containment."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from integrations.keys.local import LocalKeys
from tests.playbooks.conftest import LEAKED_KEY, Responder, responder_on
from tests.playbooks.test_revoke_on_sight import _key_only


def _with_severity(severity: str, user: str) -> dict[str, object]:
    return {**_key_only(user, f"The key is {LEAKED_KEY}."), "severity": severity}


async def _queue_of(responder: Responder, ref: str) -> str:
    detail = await responder.detail(ref)
    handle = responder.engine.client.get_workflow_handle(detail["workflow_id"])
    return (await handle.describe()).task_queue


async def test_critical_runs_on_the_urgent_queue_and_the_rest_on_the_main_one(
    responder: Responder,
) -> None:
    temporal = responder.settings.temporal
    assert temporal.urgent_task_queue == f"{temporal.task_queue}.urgent"
    critical = await responder.send(_with_severity("critical", "u-91"))
    high = await responder.send(_with_severity("high", "u-92"))
    assert await _queue_of(responder, critical) == temporal.urgent_task_queue
    assert await _queue_of(responder, high) == temporal.task_queue
    # Both run to the end: the worker serves both queues.
    await responder.wait_for(critical, "playbook.finished")
    await responder.wait_for(high, "playbook.finished")
    assert {a.status for a in responder.actions("revoke_key")} == {"completed"}


# Which queue a run is on does not depend on the store: these run on SQLite alone.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_with_no_main_queue_slot_free_a_critical_leak_is_still_revoked(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    """The extreme of a flood: nothing serves the main queue at all."""
    async with responder_on(tmp_path, database_url, temporal_env, main_queue=False) as responder:
        waiting = await responder.send(_with_severity("high", "u-93"))
        critical = await responder.send(_with_severity("critical", "u-94"))
        await responder.wait_for(critical, "containment.on_sight")
        keys = LocalKeys(responder.settings.local_keys_file)
        assert keys.state("key-support-web").status == "inactive"
        await asyncio.sleep(1)
        # The high-severity incident's run waits for a main-queue slot: not one entry yet.
        kinds = [event["kind"] for event in await responder.timeline(waiting)]
        assert "playbook.started" not in kinds
        assert "containment.on_sight" not in kinds


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_no_urgent_severities_means_one_queue(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    async with responder_on(
        tmp_path, database_url, temporal_env, temporal={"urgent_severities": []}
    ) as responder:
        temporal = responder.settings.temporal
        assert temporal.urgent_task_queue is None
        critical = await responder.send(_with_severity("critical", "u-95"))
        assert await _queue_of(responder, critical) == temporal.task_queue
        await responder.wait_for(critical, "playbook.finished")
