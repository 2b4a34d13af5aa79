"""isolate_endpoint / restore_endpoint on the local provider, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError

from activities.containment import ContainmentActivities
from integrations.endpoints.local import LocalEndpoints
from smokejumper.config import load_settings
from smokejumper.domain.containment import ActionResult, EndpointAction
from smokejumper.store.db import Store
from smokejumper.store.tables import Action
from tests.controls.conftest import endpoint_action, new_incident_id, on_disk, run


def row_of(store: Store, action: EndpointAction) -> Action:
    with store.session() as session:
        row = session.scalar(select(Action).where(Action.business_key == action.business_key))
    assert row is not None
    return row


def endpoint_on_disk(endpoints: LocalEndpoints, name: str) -> dict[str, object]:
    return on_disk(endpoints.path, "endpoints", name)


async def test_isolate_then_restore(
    activities: ContainmentActivities, endpoints: LocalEndpoints, migrated_store: Store
) -> None:
    endpoints.create("chat", owner="support-bot")
    incident_id = new_incident_id(migrated_store)
    action = endpoint_action(incident_id, "chat")
    assert action.business_key == f"{incident_id}:isolate_endpoint:local:chat"

    isolated = await run(activities.isolate_endpoint, action)

    record = endpoint_on_disk(endpoints, "chat")
    assert record["status"] == "isolated"
    assert record["by"] == f"incident {incident_id}"
    assert record["reason"] == "prompt injection exfiltrating data"
    assert record["owner"] == "support-bot"
    assert (isolated.status, isolated.verified, isolated.reversible) == ("completed", True, True)
    assert (isolated.action, isolated.endpoint) == ("isolate_endpoint", "chat")
    assert isolated.before["status"] == "serving"
    assert row_of(migrated_store, action).status == "completed"

    # A step's result is what its undo takes.
    undo = EndpointAction.model_validate(isolated.model_dump())
    restored = await run(activities.restore_endpoint, undo)

    record = endpoint_on_disk(endpoints, "chat")
    assert (record["status"], record["by"], record["reason"]) == ("serving", None, None)
    assert restored.status == "restored" and restored.restored_at is not None
    assert restored.after["restored"]["status"] == "serving"
    # Restoring twice is the recorded result, not a second write.
    changed_at = record["changed_at"]
    assert await run(activities.restore_endpoint, action) == restored
    assert endpoint_on_disk(endpoints, "chat")["changed_at"] == changed_at


async def test_isolating_twice_writes_once(
    activities: ContainmentActivities, endpoints: LocalEndpoints, migrated_store: Store
) -> None:
    endpoints.create("search")
    action = endpoint_action(new_incident_id(migrated_store), "search")

    first = await run(activities.isolate_endpoint, action)
    changed_at = endpoint_on_disk(endpoints, "search")["changed_at"]
    second = await run(activities.isolate_endpoint, action)

    assert second == first
    assert endpoint_on_disk(endpoints, "search")["changed_at"] == changed_at
    assert row_of(migrated_store, action).attempts == 1


async def test_a_resumed_isolation_keeps_the_first_who_and_why(
    activities: ContainmentActivities,
    endpoints: LocalEndpoints,
    migrated_store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoints.create("summarise")
    action = endpoint_action(new_incident_id(migrated_store), "summarise")

    def crash(*_: object, **__: object) -> ActionResult:
        raise RuntimeError("worker died before completing the row")

    monkeypatch.setattr(activities, "_complete", crash)
    with pytest.raises(RuntimeError):
        await run(activities.isolate_endpoint, action)
    monkeypatch.undo()
    changed_at = endpoint_on_disk(endpoints, "summarise")["changed_at"]
    assert row_of(migrated_store, action).status == "started"

    resumed = await run(
        activities.isolate_endpoint, action.model_copy(update={"reason": "a later reason"})
    )

    record = endpoint_on_disk(endpoints, "summarise")
    assert (record["changed_at"], record["reason"]) == (
        changed_at,
        "prompt injection exfiltrating data",
    )
    assert (resumed.status, resumed.verified) == ("completed", True)
    # The before state is the one seen before the first attempt wrote anything.
    assert resumed.before["status"] == "serving"
    assert row_of(migrated_store, action).attempts == 2


async def test_unknown_endpoint_fails_without_retry_and_is_recorded(
    activities: ContainmentActivities, migrated_store: Store
) -> None:
    action = endpoint_action(new_incident_id(migrated_store), "no-such-endpoint")

    with pytest.raises(ApplicationError) as failure:
        await run(activities.isolate_endpoint, action)

    assert failure.value.non_retryable is True
    assert failure.value.type == "EndpointNotFound"
    row = row_of(migrated_store, action)
    assert row.status == "failed"
    assert row.error is not None and "no-such-endpoint" in row.error


async def test_unknown_provider_fails_without_retry(
    activities: ContainmentActivities, migrated_store: Store
) -> None:
    action = endpoint_action(new_incident_id(migrated_store), "chat", provider="nope")

    with pytest.raises(ApplicationError) as failure:
        await run(activities.isolate_endpoint, action)

    assert failure.value.non_retryable is True
    assert "unknown endpoint provider 'nope'" in str(failure.value)


async def test_restore_without_an_isolation_fails_clearly(
    activities: ContainmentActivities, migrated_store: Store
) -> None:
    action = endpoint_action(new_incident_id(migrated_store), "chat")

    with pytest.raises(ApplicationError) as failure:
        await run(activities.restore_endpoint, action)

    assert failure.value.non_retryable is True
    assert failure.value.type == "NothingToRestore"
    assert "no isolation was recorded" in str(failure.value)


async def test_an_endpoint_isolated_before_the_incident_stays_isolated_on_restore(
    activities: ContainmentActivities, endpoints: LocalEndpoints, migrated_store: Store
) -> None:
    endpoints.create("legacy")
    endpoints.isolate("legacy", by="ops", reason="decommissioning")
    action = endpoint_action(new_incident_id(migrated_store), "legacy")

    isolated = await run(activities.isolate_endpoint, action)
    assert isolated.before["status"] == "isolated"
    await run(activities.restore_endpoint, action)

    record = endpoint_on_disk(endpoints, "legacy")
    assert (record["status"], record["by"], record["reason"]) == (
        "isolated",
        "ops",
        "decommissioning",
    )


def test_the_endpoints_file_sits_beside_the_keys_file(tmp_path: Path) -> None:
    moved = load_settings(
        data_dir=tmp_path / "data", containment={"local_state_file": tmp_path / "cp" / "k.json"}
    )
    assert moved.local_endpoints_file == tmp_path / "cp" / "endpoints.json"
    assert load_settings(data_dir=tmp_path / "d").local_endpoints_file == (
        tmp_path / "d" / "endpoints.json"
    )


def test_writes_leave_one_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.json"
    LocalEndpoints(path).create("chat")
    LocalEndpoints(path).isolate("chat", by="me", reason=None)
    assert LocalEndpoints(path).state("chat").status == "isolated"
    # No temporary file left behind by the atomic writes.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["endpoints.json", "endpoints.json.lock"]
