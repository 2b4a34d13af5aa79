"""isolate_endpoint / restore_endpoint through each endpoint provider: Kubernetes (both
modes) and LiteLLM against local emulators of their APIs, SageMaker against moto_server."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.containment import ContainmentActivities
from integrations.endpoints.base import EndpointProviderError, EndpointState
from smokejumper.config import load_settings
from smokejumper.domain.containment import ActionResult, EndpointAction
from smokejumper.store.db import Store
from tests.helpers import free_port
from tests.integrations.endpoints.conftest import (
    ADMIN_SECRET,
    CASES,
    EndpointCase,
    endpoint_action,
    isolate,
    new_incident_id,
    restore,
    row_of,
)


async def test_isolate_then_restore_puts_back_exactly_what_was_there(
    endpoint_case: EndpointCase, sqlite_store: Store, tmp_path: Path
) -> None:
    endpoint = endpoint_case.new_endpoint()
    original = endpoint_case.snapshot(endpoint)
    activities = endpoint_case.activities(sqlite_store, tmp_path)
    action = endpoint_action(new_incident_id(sqlite_store), endpoint_case.provider, endpoint)

    isolated = await isolate(activities, action)
    again = await isolate(activities, action)

    assert endpoint_case.is_isolated(endpoint)
    assert endpoint_case.isolate_calls(endpoint) == 1
    assert again == isolated
    assert (isolated.status, isolated.verified, isolated.reversible) == ("completed", True, True)
    assert EndpointState.model_validate(isolated.before).status == "serving"
    assert EndpointState.model_validate(isolated.after).status == "isolated"

    restored = await restore(activities, EndpointAction.model_validate(isolated.model_dump()))
    await restore(activities, action)

    assert not endpoint_case.is_isolated(endpoint)
    assert endpoint_case.snapshot(endpoint) == original
    assert restored.status == "restored"
    assert row_of(sqlite_store, action).restored_at is not None


async def test_a_retry_after_the_worker_died_does_not_isolate_again(
    endpoint_case: EndpointCase,
    sqlite_store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = endpoint_case.new_endpoint()
    original = endpoint_case.snapshot(endpoint)
    activities = endpoint_case.activities(sqlite_store, tmp_path)
    action = endpoint_action(new_incident_id(sqlite_store), endpoint_case.provider, endpoint)

    def crash(*_: object, **__: object) -> ActionResult:
        raise RuntimeError("worker died before completing the row")

    # The provider isolated the endpoint; the worker died before the row said so.
    monkeypatch.setattr(activities, "_complete", crash)
    with pytest.raises(RuntimeError):
        await isolate(activities, action)
    assert endpoint_case.is_isolated(endpoint)
    monkeypatch.undo()

    retried = await isolate(activities, action)

    assert endpoint_case.isolate_calls(endpoint) == 1
    assert (retried.status, retried.verified) == ("completed", True)
    assert row_of(sqlite_store, action).attempts == 2
    # What was recorded before the first attempt survives it, so restore is still exact.
    await restore(activities, action)
    assert endpoint_case.snapshot(endpoint) == original


async def test_unknown_endpoint_fails_at_once(
    endpoint_case: EndpointCase, sqlite_store: Store, tmp_path: Path
) -> None:
    unknown = "llm/no-such-deployment" if endpoint_case.provider == "kubernetes" else "nothing"
    activities = endpoint_case.activities(sqlite_store, tmp_path)
    action = endpoint_action(new_incident_id(sqlite_store), endpoint_case.provider, unknown)

    with pytest.raises(ApplicationError) as failure:
        await isolate(activities, action)

    assert failure.value.non_retryable is True
    assert failure.value.type == "EndpointNotFound"
    assert row_of(sqlite_store, action).status == "failed"
    assert endpoint_case.isolate_calls(unknown) == 0


async def test_an_unavailable_service_is_retried(
    endpoint_case: EndpointCase, sqlite_store: Store, tmp_path: Path
) -> None:
    endpoint = endpoint_case.new_endpoint()
    if endpoint_case.emulator is not None:
        endpoint_case.emulator.fail("GET", ".", 503)
        activities = endpoint_case.activities(sqlite_store, tmp_path)
    else:
        # moto cannot answer 5xx on demand: nothing listening is the same kind of outage.
        offline = {"endpoint_url": f"http://127.0.0.1:{free_port()}"}
        activities = endpoint_case.activities(sqlite_store, tmp_path, sagemaker=offline)
    action = endpoint_action(new_incident_id(sqlite_store), endpoint_case.provider, endpoint)

    with pytest.raises(ApplicationError) as failure:
        await isolate(activities, action)

    assert failure.value.non_retryable is False
    assert not endpoint_case.is_isolated(endpoint)
    assert row_of(sqlite_store, action).status == "started"


# moto_server accepts any AWS credential; AWS denials are classified as for aws_iam.
@pytest.mark.parametrize("endpoint_case", [c for c in CASES if c != "sagemaker"], indirect=True)
async def test_a_refused_credential_fails_at_once_without_showing_it(
    endpoint_case: EndpointCase, sqlite_store: Store, tmp_path: Path
) -> None:
    endpoint = endpoint_case.new_endpoint()
    wrong = "wrong-credential-fedcba9876543210"
    section = next(iter(endpoint_case.containment))
    field = "token" if section == "kubernetes" else "api_key"
    activities = endpoint_case.activities(sqlite_store, tmp_path, **{section: {field: wrong}})
    action = endpoint_action(new_incident_id(sqlite_store), endpoint_case.provider, endpoint)

    with pytest.raises(ApplicationError) as failure:
        await isolate(activities, action)

    assert failure.value.non_retryable is True
    assert "credential was refused" in str(failure.value)
    row = row_of(sqlite_store, action)
    assert row.status == "failed"
    assert wrong not in f"{failure.value} {row.error}"
    assert ADMIN_SECRET not in f"{failure.value} {row.error}"
    assert not endpoint_case.is_isolated(endpoint)


def test_a_provider_without_its_settings_fails_at_once(tmp_path: Path, sqlite_store: Store) -> None:
    activities = ContainmentActivities(sqlite_store, load_settings(data_dir=tmp_path))
    with pytest.raises(EndpointProviderError) as missing:
        activities.endpoints.get("litellm")
    assert "containment.litellm.base_url is not set" in str(missing.value)
    assert missing.value.retryable is False
