"""Blocking principals, input-filter rules and document quarantine: the activities change
the embedded control plane once per business key, and the controls API answers from it."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError

from activities.control_plane import ControlPlaneActivities
from smokejumper.config import Settings
from smokejumper.domain.containment import DocumentAction, FilterRuleAction, PrincipalAction
from smokejumper.store.db import Store
from smokejumper.store.tables import Action
from tests.helpers import insert_incident
from tests.playbooks.conftest import check, run


def incident(store: Store) -> int:
    return insert_incident(store, playbook="test", fingerprint=uuid.uuid4().hex).incident_id


def block(incident_id: int, user: str, **extra: object) -> PrincipalAction:
    return PrincipalAction(
        incident_id=incident_id,
        step="block user",
        principal_type="user",
        principal=user,
        reason="jailbreak attempts",
        **extra,  # type: ignore[arg-type]
    )


def rows(store: Store, key: str) -> list[Action]:
    with store.session() as session:
        return list(session.scalars(select(Action).where(Action.business_key == key)))


async def test_a_blocked_user_is_refused_until_unblocked(
    controls: ControlPlaneActivities,
    api: httpx.AsyncClient,
    migrated_store: Store,
    settings: Settings,
) -> None:
    action = block(incident(migrated_store), "mallory")
    assert (await check(api, user="mallory"))["allowed"] is True

    result = await run(controls.block_principal, action)
    again = await run(controls.block_principal, action)

    assert (result.status, result.verified, result.reversible) == ("completed", True, True)
    assert again == result
    assert rows(migrated_store, action.business_key)[0].attempts == 1
    answer = await check(api, user="mallory", key_id="sk-other")
    assert answer["allowed"] is False
    assert [r["code"] for r in answer["reasons"]] == ["principal_blocked"]
    assert answer["reasons"][0]["target"] == "user:mallory"
    # The same name as a tenant is another principal.
    assert (await check(api, tenant="mallory"))["allowed"] is True
    record = json.loads(settings.local_principals_file.read_text())["principals"]["user:mallory"]
    assert record["by"] == f"incident {action.incident_id}"

    restored = await run(controls.unblock_principal, action)
    assert restored.status == "restored"
    assert (await check(api, user="mallory"))["allowed"] is True


async def test_an_api_key_block_refuses_requests_made_with_the_key(
    controls: ControlPlaneActivities, api: httpx.AsyncClient, migrated_store: Store
) -> None:
    action = PrincipalAction(
        incident_id=incident(migrated_store), principal_type="api_key", principal="key-7"
    )
    await run(controls.block_principal, action)
    answer = await check(api, key_id="key-7", endpoint="chat")
    assert answer["allowed"] is False
    assert answer["reasons"][0]["target"] == "api_key:key-7"


async def test_a_block_lapses_at_its_expiry(
    controls: ControlPlaneActivities, api: httpx.AsyncClient, migrated_store: Store
) -> None:
    until = datetime.now(UTC) + timedelta(seconds=1)
    action = block(incident(migrated_store), "trudy", expires_at=until)
    await run(controls.block_principal, action)
    answer = await check(api, session_id="s1", user="trudy")
    assert answer["allowed"] is False
    assert until.isoformat() in answer["reasons"][0]["message"]

    await asyncio.sleep((until - datetime.now(UTC)).total_seconds() + 0.05)

    assert (await check(api, user="trudy"))["allowed"] is True


async def test_filter_rules_are_served_to_the_gateway_until_removed_or_expired(
    controls: ControlPlaneActivities, api: httpx.AsyncClient, migrated_store: Store
) -> None:
    incident_id = incident(migrated_store)
    soon = datetime.now(UTC) + timedelta(hours=4)
    rule = FilterRuleAction(
        incident_id=incident_id,
        rule_id=f"inc-{incident_id}-ignore-previous",
        pattern=r"(?i)ignore (all )?previous instructions",
        expires_at=soon,
        reason="direct prompt injection",
    )
    lapsed = FilterRuleAction(
        incident_id=incident_id,
        rule_id=f"inc-{incident_id}-old",
        kind="canary",
        pattern="CANARY-1234",
        expires_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    await run(controls.add_filter_rule, rule)
    written = await run(controls.add_filter_rule, lapsed)
    assert written.verified is False  # written, but already past its expiry

    served = (await api.get("/api/v1/controls/filter-rules")).json()["rules"]
    assert served == [
        {
            "id": rule.rule_id,
            "kind": "pattern",
            "pattern": rule.pattern,
            "expires_at": soon.isoformat(),
            "reason": "direct prompt injection",
            "by": f"incident {incident_id}",
        }
    ]

    await run(controls.remove_filter_rule, rule)
    assert (await api.get("/api/v1/controls/filter-rules")).json() == {"rules": []}


async def test_an_invalid_pattern_fails_at_once_and_changes_nothing(
    controls: ControlPlaneActivities, migrated_store: Store, settings: Settings
) -> None:
    rule = FilterRuleAction(
        incident_id=incident(migrated_store),
        rule_id="broken",
        pattern="(unclosed",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    with pytest.raises(ApplicationError) as failure:
        await run(controls.add_filter_rule, rule)
    assert failure.value.non_retryable is True
    assert "not a valid regex" in str(failure.value)
    assert not settings.local_filter_rules_file.exists()
    assert rows(migrated_store, rule.business_key) == []


async def test_a_quarantined_document_is_refused_to_retrievers_until_released(
    controls: ControlPlaneActivities, api: httpx.AsyncClient, migrated_store: Store
) -> None:
    action = DocumentAction(
        incident_id=incident(migrated_store),
        document="kb/returns-policy.md",
        source="support-kb",
        reason="hidden instructions",
    )
    await run(controls.quarantine_document, action)

    answer = await check(api, document=["kb/faq.md", "kb/returns-policy.md"])
    assert answer["allowed"] is False
    assert [(r["code"], r["target"]) for r in answer["reasons"]] == [
        ("document_quarantined", "kb/returns-policy.md")
    ]
    assert (await check(api, document="kb/faq.md"))["allowed"] is True

    await run(controls.release_document, action)
    assert (await check(api, document="kb/returns-policy.md"))["allowed"] is True


async def test_unknown_provider_is_refused(
    controls: ControlPlaneActivities, migrated_store: Store
) -> None:
    action = block(incident(migrated_store), "eve").model_copy(update={"provider": "elsewhere"})
    with pytest.raises(ApplicationError, match="unknown control-plane provider 'elsewhere'"):
        await run(controls.block_principal, action)


async def test_filter_rules_need_a_token(api: httpx.AsyncClient) -> None:
    response = await api.get(
        "/api/v1/controls/filter-rules", headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401
