"""The Vault key providers against a real OpenBao server: what revoking does to the token
and to the PostgreSQL login a lease stood for, what is recorded, and what is refused."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from integrations.keys.base import KeyNotFound, KeyProviderError, KeyState
from integrations.keys.vault_lease import VaultLeases
from integrations.keys.vault_token import VaultTokens
from tests.openbao import OpenBao


def test_revoking_a_token_stops_it_authenticating(
    openbao: OpenBao, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    accessor, token = openbao.create_token(["llm-app", "read-prompts"])
    tokens = VaultTokens(openbao.url, openbao.root_token)

    before = tokens.state(accessor)
    tokens.revoke(accessor)
    again = tokens.revoke(accessor)

    assert before.details["policies"] == ["default", "llm-app", "read-prompts"]
    assert before.details["display_name"] == "token-llm-app"
    assert not openbao.token_works(token)
    assert not openbao.accessor_known(accessor)
    assert again.status == "inactive"
    assert tokens.verify_revoked(accessor)
    with pytest.raises(KeyNotFound):
        tokens.state(accessor)
    with pytest.raises(KeyProviderError) as refused:
        tokens.restore(accessor, before)
    assert refused.value.retryable is False
    assert "policies: default, llm-app, read-prompts" in str(refused.value)
    # Named by accessor, the token itself never passes through: not in what is recorded,
    # nor in the log.
    recorded = str(before.model_dump()) + str(refused.value) + caplog.text
    assert token not in recorded
    assert openbao.root_token not in recorded


def test_an_unknown_accessor_is_not_found_and_changes_nothing(openbao: OpenBao) -> None:
    accessor, token = openbao.create_token(["llm-app"])
    tokens = VaultTokens(openbao.url, openbao.root_token)

    with pytest.raises(KeyNotFound) as unknown:
        tokens.state(f"{accessor}x")

    assert "not found" in str(unknown.value)
    assert openbao.token_works(token)


def test_revoking_a_lease_prefix_drops_its_database_logins_only(openbao: OpenBao) -> None:
    prefix = openbao.create_role()
    logins = [openbao.credentials(prefix)[1] for _ in range(3)]
    # A role whose name starts with the same text: its leases are not under the prefix.
    neighbour = openbao.create_role(f"{prefix.rsplit('/', 1)[1]}2")
    kept = openbao.credentials(neighbour)[1]
    leases = VaultLeases(openbao.url, openbao.root_token)
    assert all(openbao.can_log_in(login) for login in [*logins, kept])
    listed = openbao.leases(prefix)

    before = leases.state(f"{prefix}/")
    leases.revoke(prefix)
    leases.revoke(prefix)

    assert before.details["lease_count"] == 3
    assert sorted(before.details["leases"]) == sorted(listed)
    assert not any(openbao.can_log_in(login) for login in logins)
    assert openbao.leases(prefix) == []
    assert leases.verify_revoked(prefix)
    assert openbao.can_log_in(kept)
    assert len(openbao.leases(neighbour)) == 1
    with pytest.raises(KeyProviderError) as refused:
        leases.restore(prefix, before)
    assert "request new credentials" in str(refused.value)


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "/",
        "../sys/",
        "database/../sys",
        "database//creds",
        "database/creds/a?list=true",
        "database/creds/a b",
        "d" * 2000,
    ],
)
def test_a_malformed_lease_prefix_is_refused_before_any_call(openbao: OpenBao, prefix: str) -> None:
    leases = VaultLeases("http://127.0.0.1:9", openbao.root_token)

    for call in (leases.state, leases.revoke):
        with pytest.raises(KeyProviderError) as refused:
            call(prefix)
        assert refused.value.retryable is False
        assert "is not a lease prefix" in str(refused.value)


@pytest.mark.parametrize("accessor", ["", "a b", "acc\nessor", "x" * 500, '{"accessor":"x"}'])
def test_a_malformed_accessor_is_refused_before_any_call(openbao: OpenBao, accessor: str) -> None:
    tokens = VaultTokens("http://127.0.0.1:9", openbao.root_token)

    for call in (tokens.state, tokens.revoke):
        with pytest.raises(KeyProviderError) as refused:
            call(accessor)
        assert refused.value.retryable is False
        assert "is not a token accessor" in str(refused.value)
        assert len(str(refused.value)) < 200


def test_a_refused_token_is_final_and_not_shown(openbao: OpenBao) -> None:
    accessor, _ = openbao.create_token(["llm-app"])
    wrong = "s.wrong-token-0123456789"
    leases = VaultLeases(openbao.url, wrong)
    tokens = VaultTokens(openbao.url, wrong)

    calls: list[Callable[[], KeyState]] = [
        lambda: tokens.revoke(accessor),
        lambda: leases.revoke("database/creds/x"),
    ]
    for call in calls:
        with pytest.raises(KeyProviderError) as refused:
            call()
        assert refused.value.retryable is False
        assert "credential was refused (HTTP 403)" in str(refused.value)
        assert wrong not in str(refused.value)
    assert openbao.accessor_known(accessor)
