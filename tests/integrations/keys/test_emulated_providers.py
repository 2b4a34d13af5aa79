"""The OpenAI, LiteLLM and Vault key providers through the containment activities: Vault's
on a real OpenBao server (behind a recording proxy that counts and breaks calls), OpenAI's
and LiteLLM's on local emulators of their admin APIs (these cannot run on a test machine)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from integrations.keys.base import KeyState
from smokejumper.store.db import Store
from tests.integrations.keys.conftest import (
    KeyCase,
    emulated_activities,
    key_action,
    new_incident_id,
    restore,
    revoke,
    row_of,
)


async def test_revoke_is_verified_and_not_repeated(
    key_case: KeyCase, sqlite_store: Store, tmp_path: Path
) -> None:
    key_id = key_case.new_key()
    activities = emulated_activities(sqlite_store, tmp_path, key_case)
    action = key_action(new_incident_id(sqlite_store), key_case.provider, key_id)

    first = await revoke(activities, action)
    second = await revoke(activities, action)

    assert key_case.is_revoked(key_id)
    assert key_case.revoke_calls(key_id) == 1
    assert second == first
    assert (first.status, first.verified) == ("completed", True)
    assert first.business_key == f"{action.incident_id}:revoke_key:{key_case.provider}:{key_id}"
    assert KeyState.model_validate(first.before).status == "active"
    assert KeyState.model_validate(first.after).status == "inactive"
    row = row_of(sqlite_store, action)
    assert (row.status, row.attempts, row.error) == ("completed", 1, None)


async def test_a_retry_after_a_lost_answer_does_not_revoke_again(
    key_case: KeyCase, sqlite_store: Store, tmp_path: Path
) -> None:
    key_id = key_case.new_key()
    activities = emulated_activities(sqlite_store, tmp_path, key_case)
    action = key_action(new_incident_id(sqlite_store), key_case.provider, key_id)
    method, path = key_case.revoke_request(key_id)
    # The revoke goes through, but its answer is lost at a gateway: the attempt fails.
    key_case.emulator.fail(method, f"^{path}$", 502, after=True)

    with pytest.raises(ApplicationError) as lost:
        await revoke(activities, action)
    assert lost.value.non_retryable is False
    assert key_case.is_revoked(key_id)
    assert row_of(sqlite_store, action).status == "started"

    # Temporal's retry: the key is already revoked (or gone), so it is not revoked again.
    retried = await revoke(activities, action)

    assert key_case.revoke_calls(key_id) == 1
    assert (retried.status, retried.verified) == ("completed", True)
    assert KeyState.model_validate(retried.before).status == "active"
    assert row_of(sqlite_store, action).attempts == 2


async def test_unknown_key_fails_at_once(
    key_case: KeyCase, sqlite_store: Store, tmp_path: Path
) -> None:
    unknown = {
        "openai": "proj_support/key_unknown",
        "litellm": "0" * 64,
        "vault_token": "unknown-accessor",
        "vault_lease": "database/creds/unknown/",
    }[key_case.provider]
    activities = emulated_activities(sqlite_store, tmp_path, key_case)
    action = key_action(new_incident_id(sqlite_store), key_case.provider, unknown)

    with pytest.raises(ApplicationError) as failure:
        await revoke(activities, action)

    assert failure.value.non_retryable is True
    assert failure.value.type == "KeyNotFound"
    assert key_case.revoke_calls(unknown) == 0
    row = row_of(sqlite_store, action)
    assert row.status == "failed"
    assert row.error is not None and unknown in row.error


async def test_server_errors_are_retried(
    key_case: KeyCase, sqlite_store: Store, tmp_path: Path
) -> None:
    key_id = key_case.new_key()
    activities = emulated_activities(sqlite_store, tmp_path, key_case)
    action = key_action(new_incident_id(sqlite_store), key_case.provider, key_id)
    for method in ("GET", "POST"):
        key_case.emulator.fail(method, ".", 503)

    with pytest.raises(ApplicationError) as failure:
        await revoke(activities, action)

    assert failure.value.non_retryable is False
    assert "HTTP 503" in str(failure.value)
    assert not key_case.is_revoked(key_id)
    row = row_of(sqlite_store, action)
    assert row.status == "started" and row.error is not None


async def test_a_refused_credential_fails_at_once_without_showing_it(
    key_case: KeyCase,
    sqlite_store: Store,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key_id = key_case.new_key()
    wrong = "wrong-credential-fedcba9876543210"
    activities = emulated_activities(sqlite_store, tmp_path, key_case, secret=wrong)
    action = key_action(new_incident_id(sqlite_store), key_case.provider, key_id)

    with pytest.raises(ApplicationError) as failure:
        await revoke(activities, action)

    assert failure.value.non_retryable is True
    assert "credential was refused" in str(failure.value)
    row = row_of(sqlite_store, action)
    assert row.status == "failed"
    shown = json.dumps([str(failure.value), row.error, row.before, row.after]) + caplog.text
    assert wrong not in shown
    assert key_case.secret not in shown
    assert not key_case.is_revoked(key_id)


async def test_restore_puts_back_what_can_be_put_back(
    key_case: KeyCase, sqlite_store: Store, tmp_path: Path
) -> None:
    key_id = key_case.new_key()
    activities = emulated_activities(sqlite_store, tmp_path, key_case)
    action = key_action(new_incident_id(sqlite_store), key_case.provider, key_id)
    revoked = await revoke(activities, action)
    requests_before = len(key_case.emulator.requests)

    if key_case.provider == "litellm":
        assert revoked.reversible is True
        restored = await restore(activities, action)
        assert not key_case.is_revoked(key_id)
        assert key_case.emulator.calls("POST", "/key/unblock") == 1
        assert restored.status == "restored"
        again = await restore(activities, action)
        assert again == restored
        assert key_case.emulator.calls("POST", "/key/unblock") == 1
        return

    # OpenAI deletes keys and Vault cannot un-revoke: the step's undo says so and does nothing.
    assert revoked.reversible is False
    with pytest.raises(ApplicationError) as refused:
        await restore(activities, action)
    assert refused.value.non_retryable is True
    assert refused.value.type == "NotRestorable"
    assert "issue a new key" in str(refused.value)
    assert len(key_case.emulator.requests) == requests_before
    assert key_case.is_revoked(key_id)
