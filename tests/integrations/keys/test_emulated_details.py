"""What the emulated key providers record and refuse, beyond the shared behaviour."""

from __future__ import annotations

import pytest

from integrations.keys.base import KeyProviderError
from integrations.keys.litellm import LiteLLMKeys
from integrations.keys.openai_admin import OpenAIProjectKeys
from tests.integrations.emulators.litellm import LiteLLMProxy
from tests.integrations.emulators.openai_admin import OpenAIAdmin
from tests.integrations.keys.conftest import ADMIN_SECRET


def test_openai_records_the_owner_not_the_key_and_cannot_restore() -> None:
    with OpenAIAdmin(ADMIN_SECRET).running() as api:
        assert isinstance(api, OpenAIAdmin)
        key_id, value = api.create_key("proj_support", name="support-bot")
        keys = OpenAIProjectKeys(f"{api.url}/v1", ADMIN_SECRET)

        before = keys.state(key_id)
        after = keys.revoke(key_id)

        assert before.details["owner_type"] == "service_account"
        assert before.details["name"] == "support-bot"
        assert value[:8] not in str(before.model_dump())
        assert after.details == {"project_id": "proj_support", "deleted": True}
        assert keys.verify_revoked(key_id)
        with pytest.raises(KeyProviderError) as refused:
            keys.restore(key_id, before)
        assert refused.value.retryable is False
        assert "issue a new key in project proj_support" in str(refused.value)


def test_openai_key_names_need_their_project() -> None:
    keys = OpenAIProjectKeys("http://127.0.0.1:9/v1", ADMIN_SECRET)
    with pytest.raises(KeyProviderError) as bad:
        keys.state("key_without_project")
    assert bad.value.retryable is False
    assert "<project_id>/<key_id>" in str(bad.value)


def test_openai_unreachable_is_retried_and_a_rejection_does_not_quote_the_api() -> None:
    with OpenAIAdmin(ADMIN_SECRET).running() as api:
        assert isinstance(api, OpenAIAdmin)
        key_id, _ = api.create_key("proj_support")
        keys = OpenAIProjectKeys(f"{api.url}/v1", ADMIN_SECRET)
        api.fail("GET", ".", 400)
        with pytest.raises(KeyProviderError) as rejected:
            keys.state(key_id)
    unreachable = OpenAIProjectKeys("http://127.0.0.1:9/v1", ADMIN_SECRET, timeout_seconds=2)
    with pytest.raises(KeyProviderError) as down:
        unreachable.state(key_id)

    assert rejected.value.retryable is False
    assert str(rejected.value) == f"openai look up {key_id}: rejected (HTTP 400)"
    assert down.value.retryable is True
    assert "cannot reach the API" in str(down.value)


def test_litellm_refuses_the_key_itself_without_repeating_it() -> None:
    with LiteLLMProxy(ADMIN_SECRET).running() as proxy:
        assert isinstance(proxy, LiteLLMProxy)
        _, value = proxy.create_key()
        keys = LiteLLMKeys(proxy.url, ADMIN_SECRET)

        with pytest.raises(KeyProviderError) as refused:
            keys.revoke(value)

        assert refused.value.retryable is False
        assert value not in str(refused.value)
        assert proxy.requests == []


def test_litellm_restore_keeps_a_key_blocked_before_the_incident_blocked() -> None:
    with LiteLLMProxy(ADMIN_SECRET).running() as proxy:
        assert isinstance(proxy, LiteLLMProxy)
        token, _ = proxy.create_key(alias="batch-job")
        keys = LiteLLMKeys(proxy.url, ADMIN_SECRET)
        keys.revoke(token)
        before = keys.state(token)
        assert before.details["key_alias"] == "batch-job"

        keys.restore(token, before)

        assert proxy.blocked(token)
        assert proxy.calls("POST", "/key/unblock") == 0
