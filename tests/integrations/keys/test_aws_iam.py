"""The AWS IAM key provider through the containment activities, against moto_server."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.containment import ContainmentActivities
from integrations.keys.base import KeyState
from smokejumper.domain.containment import ActionResult, KeyAction
from smokejumper.store.db import Store
from tests.helpers import free_port
from tests.integrations.keys.conftest import (
    Iam,
    containment_settings,
    key_action,
    new_incident_id,
    restore,
    revoke,
    row_of,
)


async def test_revoke_then_restore(
    iam: Iam,
    aws_activities: ContainmentActivities,
    migrated_store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Our loggers only: boto3's own debug log of the test's CreateAccessKey shows the secret.
    caplog.set_level(logging.DEBUG, logger="smokejumper")
    caplog.set_level(logging.DEBUG, logger="temporalio")
    key_id, secret = iam.access_key()
    action = key_action(new_incident_id(migrated_store), "aws_iam", key_id)

    revoked = await revoke(aws_activities, action)

    assert iam.status(key_id) == "Inactive"
    assert revoked.status == "completed"
    assert revoked.verified is True
    assert revoked.reversible is True
    assert revoked.business_key == f"{action.incident_id}:revoke_key:aws_iam:{key_id}"
    assert KeyState.model_validate(revoked.before).status == "active"
    assert KeyState.model_validate(revoked.after).status == "inactive"
    row = row_of(migrated_store, action)
    assert (row.status, row.attempts, row.verified, row.error) == ("completed", 1, True, None)
    assert row.finished_at is not None

    # The step's result is what the playbook SDK hands to the undo activity.
    restored = await restore(aws_activities, KeyAction.model_validate(revoked.model_dump()))

    assert iam.status(key_id) == "Active"
    assert restored.restored_at is not None
    row = row_of(migrated_store, action)
    assert row.restored_at is not None
    assert row.status == "restored"
    assert secret not in json.dumps([row.before, row.after, row.error])
    assert secret not in caplog.text


async def test_revoking_twice_calls_update_access_key_once(
    iam: Iam, aws_activities: ContainmentActivities, migrated_store: Store
) -> None:
    key_id, _ = iam.access_key()
    action = key_action(new_incident_id(migrated_store), "aws_iam", key_id)

    first = await revoke(aws_activities, action)
    second = await revoke(aws_activities, action)

    assert iam.calls("UpdateAccessKey", key_id) == 1
    assert second == first
    assert row_of(migrated_store, action).attempts == 1
    assert iam.status(key_id) == "Inactive"


async def test_crash_between_the_call_and_the_completion_does_not_call_again(
    iam: Iam,
    aws_activities: ContainmentActivities,
    migrated_store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key_id, _ = iam.access_key()
    action = key_action(new_incident_id(migrated_store), "aws_iam", key_id)

    def crash(*_: object, **__: object) -> ActionResult:
        raise RuntimeError("worker died before completing the row")

    # The worker "dies" after IAM has disabled the key but before the row says so.
    monkeypatch.setattr(aws_activities, "_complete", crash)
    with pytest.raises(RuntimeError):
        await revoke(aws_activities, action)
    assert row_of(migrated_store, action).status == "started"
    assert iam.calls("UpdateAccessKey", key_id) == 1
    monkeypatch.undo()

    resumed = await revoke(aws_activities, action)

    assert iam.calls("UpdateAccessKey", key_id) == 1
    assert resumed.status == "completed"
    assert resumed.verified is True
    # The state before the first attempt survives the resume, so restore re-enables the key.
    assert KeyState.model_validate(resumed.before).status == "active"
    assert row_of(migrated_store, action).attempts == 2
    await restore(aws_activities, action)
    assert iam.status(key_id) == "Active"


async def test_unknown_key_fails_without_retry_and_is_recorded(
    iam: Iam, aws_activities: ContainmentActivities, migrated_store: Store
) -> None:
    action = key_action(new_incident_id(migrated_store), "aws_iam", "AKIAUNKNOWNKEY000000")

    with pytest.raises(ApplicationError) as failure:
        await revoke(aws_activities, action)

    assert failure.value.non_retryable is True
    assert failure.value.type == "KeyNotFound"
    row = row_of(migrated_store, action)
    assert row.status == "failed"
    assert row.error is not None and "AKIAUNKNOWNKEY000000" in row.error
    assert iam.calls("UpdateAccessKey", "AKIAUNKNOWNKEY000000") == 0
    with pytest.raises(ApplicationError) as nothing:
        await restore(aws_activities, action)
    assert nothing.value.non_retryable is True


async def test_unreachable_endpoint_is_retryable_and_recorded(
    iam: Iam, migrated_store: Store, tmp_path: Path
) -> None:
    key_id, _ = iam.access_key()
    # Nothing listens on a fresh free port: the connection is refused, as in an outage.
    offline = ContainmentActivities(
        migrated_store, containment_settings(tmp_path, f"http://127.0.0.1:{free_port()}")
    )
    action = key_action(new_incident_id(migrated_store), "aws_iam", key_id)

    with pytest.raises(ApplicationError) as failure:
        await revoke(offline, action)

    assert failure.value.non_retryable is False
    row = row_of(migrated_store, action)
    assert row.status == "started"
    assert row.error is not None
    assert iam.status(key_id) == "Active"
