"""The embedded control plane's key provider through the containment activities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.containment import ContainmentActivities
from integrations.keys.local import LocalKeys
from smokejumper.domain.containment import ActionResult, KeyAction
from smokejumper.store.db import Store
from smokejumper.store.tables import Action
from tests.integrations.keys.conftest import containment_settings, key_action, new_incident_id


class NonRestorableKeys(LocalKeys):
    """Like a provider whose revocation deletes the key: it cannot be brought back."""

    restorable = False


@pytest.fixture
def activities(sqlite_store: Store, tmp_path: Path) -> ContainmentActivities:
    return ContainmentActivities(sqlite_store, containment_settings(tmp_path))


@pytest.fixture
def keys(tmp_path: Path) -> LocalKeys:
    # A second instance over the same file, as another process would see it.
    return LocalKeys(tmp_path / "data" / "keys.json")


def row_of(store: Store, action: KeyAction) -> Action:
    with store.session() as session:
        row = session.scalar(select(Action).where(Action.business_key == action.business_key))
    assert row is not None
    return row


def on_disk(keys: LocalKeys, key_id: str) -> dict[str, object]:
    record: dict[str, object] = json.loads(keys.path.read_text())["keys"][key_id]
    return record


async def run(function: object, action: KeyAction) -> ActionResult:
    result: ActionResult = await ActivityEnvironment().run(function, action)  # type: ignore[arg-type]
    return result


async def test_revoke_then_restore(
    activities: ContainmentActivities, keys: LocalKeys, sqlite_store: Store
) -> None:
    keys.create("sk-live-1", owner="support-bot")
    action = key_action(new_incident_id(sqlite_store), "local", "sk-live-1")

    revoked = await run(activities.revoke_key, action)

    assert on_disk(keys, "sk-live-1")["status"] == "inactive"
    assert (revoked.status, revoked.verified, revoked.reversible) == ("completed", True, True)
    assert revoked.before["status"] == "active"

    restored = await run(activities.restore_key, action)

    assert on_disk(keys, "sk-live-1")["status"] == "active"
    assert restored.restored_at is not None
    assert row_of(sqlite_store, action).restored_at is not None
    # Restoring twice is the recorded result, not a second write.
    assert await run(activities.restore_key, action) == restored


async def test_revoking_twice_writes_once(
    activities: ContainmentActivities, keys: LocalKeys, sqlite_store: Store
) -> None:
    keys.create("sk-live-2")
    action = key_action(new_incident_id(sqlite_store), "local", "sk-live-2")

    first = await run(activities.revoke_key, action)
    changed_at = on_disk(keys, "sk-live-2")["changed_at"]
    second = await run(activities.revoke_key, action)

    assert second == first
    assert on_disk(keys, "sk-live-2")["changed_at"] == changed_at
    assert row_of(sqlite_store, action).attempts == 1


async def test_crash_between_the_write_and_the_completion_does_not_write_again(
    activities: ContainmentActivities,
    keys: LocalKeys,
    sqlite_store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys.create("sk-live-3")
    action = key_action(new_incident_id(sqlite_store), "local", "sk-live-3")

    def crash(*_: object, **__: object) -> ActionResult:
        raise RuntimeError("worker died before completing the row")

    monkeypatch.setattr(activities, "_complete", crash)
    with pytest.raises(RuntimeError):
        await run(activities.revoke_key, action)
    monkeypatch.undo()
    changed_at = on_disk(keys, "sk-live-3")["changed_at"]
    assert row_of(sqlite_store, action).status == "started"

    resumed = await run(activities.revoke_key, action)

    assert on_disk(keys, "sk-live-3")["changed_at"] == changed_at
    assert (resumed.status, resumed.verified) == ("completed", True)
    assert resumed.before["status"] == "active"


async def test_unknown_key_fails_without_retry_and_is_recorded(
    activities: ContainmentActivities, sqlite_store: Store
) -> None:
    action = key_action(new_incident_id(sqlite_store), "local", "sk-missing")

    with pytest.raises(ApplicationError) as failure:
        await run(activities.revoke_key, action)

    assert failure.value.non_retryable is True
    row = row_of(sqlite_store, action)
    assert row.status == "failed"
    assert row.error is not None and "sk-missing" in row.error


async def test_unknown_provider_fails_without_retry(
    activities: ContainmentActivities, sqlite_store: Store
) -> None:
    action = key_action(new_incident_id(sqlite_store), "nope", "k")

    with pytest.raises(ApplicationError) as failure:
        await run(activities.revoke_key, action)

    assert failure.value.non_retryable is True
    assert "unknown key provider 'nope'" in str(failure.value)


async def test_restore_of_a_non_restorable_provider_fails_clearly(
    activities: ContainmentActivities, sqlite_store: Store, tmp_path: Path
) -> None:
    provider = NonRestorableKeys(tmp_path / "gone.json")
    provider.create("sk-live-4")
    activities.providers.register("gone", provider)
    action = key_action(new_incident_id(sqlite_store), "gone", "sk-live-4")
    revoked = await run(activities.revoke_key, action)
    assert revoked.reversible is False

    with pytest.raises(ApplicationError) as failure:
        await run(activities.restore_key, action)

    assert failure.value.non_retryable is True
    assert "cannot restore keys" in str(failure.value)
    assert provider.state("sk-live-4").status == "inactive"


def test_state_survives_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    LocalKeys(path).create("sk-a")
    LocalKeys(path).revoke("sk-a")
    assert LocalKeys(path).state("sk-a").status == "inactive"
    # No temporary file left behind by the atomic writes.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.json", "keys.json.lock"]
