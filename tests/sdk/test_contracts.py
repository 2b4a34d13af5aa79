"""Typed activity contracts: declared once, implemented once, found from what a playbook's
code names, and answered by a dry run with typed fakes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from typer.testing import CliRunner

from cli.main import app
from playbooks import BUILTIN_PLAYBOOKS
from playbooks.data_leakage import SensitiveDataLeakage
from smokejumper.config import ConfigError, Settings
from smokejumper.contracts.base import (
    Contract,
    ContractError,
    Rehearsal,
    check_implementations,
    contracts_of,
    empty_value,
    implemented_names,
)
from smokejumper.domain.alerts import Alert
from smokejumper.sdk import (
    ASSESS_LEAK,
    BLOCK_PRINCIPAL,
    MEMORY_PURGE_PLAN,
    RESTORE_KEY,
    REVOKE_KEY,
    ROLLBACK_MODEL,
    UNBLOCK_PRINCIPAL,
    ActionResult,
    IncidentStart,
    KeyAction,
    MemoryQuery,
    Playbook,
    playbook,
)
from smokejumper.store.db import Store
from testkit import make_alert
from testkit.pytest_plugin import HarnessFactory, playbook_harness
from tests.sdk.kit_playbooks import NamesItsActivity
from workers.worker import activities_for, build_worker

# Imported for pytest, which finds fixtures by name in the test module.
__all__ = ["playbook_harness"]

UNDO_NOTE = Contract("test_undo_note", str, str)
NOTE = Contract("test_note", str, str, undo=UNDO_NOTE)


@playbook
class Notes(Playbook):
    name = "test-contract-notes"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("note", NOTE, incident.ref)


def test_an_implementation_must_take_and_return_the_contract_types() -> None:
    async def right(note: str) -> str:
        return note

    assert NOTE.implementation(right) is right

    async def wrong_argument(note: int) -> str:
        return str(note)

    with pytest.raises(ContractError, match="its argument is int, the contract's is str"):
        NOTE.implementation(wrong_argument)

    async def wrong_result(note: str) -> int:
        return len(note)

    with pytest.raises(ContractError, match="it returns int, the contract's result is str"):
        NOTE.implementation(wrong_result)


def test_a_result_without_an_empty_value_needs_a_rehearsal() -> None:
    with pytest.raises(ContractError, match="give `rehearse=`"):
        Contract("test_no_fake", str, ActionResult)
    assert empty_value(list[str]) == []
    assert empty_value(bool) is False


def test_the_playbooks_contracts_are_found_from_their_code() -> None:
    names = {contract.name for contract in contracts_of([SensitiveDataLeakage])}
    # Its own steps, the shared base's (revoke, block, report), their undos, and the
    # engine's bookkeeping under every playbook.
    assert {"revoke_key", "restore_key", "block_principal", "unblock_principal"} <= names
    assert {"memory_purge_plan", "purge_memory", "record_report", "assess_leak"} <= names
    assert {"record_timeline_event", "set_incident_status", "notify"} <= names
    assert "rollback_model" not in names
    assert {c.name for c in contracts_of([Notes])} >= {"test_note", "test_undo_note"}


CLASH = Contract("revoke_key", str, str)


@playbook
class Clashing(Playbook):
    name = "test-contract-clash"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("a", REVOKE_KEY, KeyAction(incident_id=1, provider="x", key_id="k"))
        await self.step("b", CLASH, "k")


def test_two_contracts_with_one_name_are_refused() -> None:
    with pytest.raises(ContractError, match="'revoke_key' is declared twice"):
        contracts_of([Clashing])


def test_the_worker_implements_every_built_in_contract_once() -> None:
    store = Store("sqlite:///:memory:")
    try:
        activities = activities_for(store, Settings())
        check_implementations(activities, contracts_of(BUILTIN_PLAYBOOKS.values()))
        with pytest.raises(ContractError, match="'revoke_key' has 2 implementations"):
            twice = [fn for fn in activities if "revoke_key" in implemented_names([fn])]
            check_implementations([*activities, *twice], [REVOKE_KEY])
    finally:
        store.dispose()


async def test_a_worker_missing_an_implementation_refuses_to_start() -> None:
    store = Store("sqlite:///:memory:")
    client: Any = Client.__new__(Client)  # never connected: the check comes first
    try:
        with pytest.raises(ConfigError, match="'test_note' has no implementation"):
            build_worker(client, Settings(), store, workflows=[Notes])
    finally:
        store.dispose()


def test_a_dry_run_answers_with_typed_fakes() -> None:
    alert = Alert.model_validate(
        {
            "source": "test",
            "kind": "data_leakage",
            "severity": "high",
            "title": "key in output",
            "evidence": {"response": "here: AKIAIOSFODNN7EXAMPLE"},
        }
    )
    rehearsal = Rehearsal(alert=alert)
    action = KeyAction(incident_id=7, step="revoke", provider="aws_iam", key_id="AKIA1")
    revoked = REVOKE_KEY.answer(action, rehearsal)
    assert (revoked.status, revoked.verified, revoked.key_id) == ("rehearsed", True, "AKIA1")
    assert RESTORE_KEY is REVOKE_KEY.undo and UNBLOCK_PRINCIPAL is BLOCK_PRINCIPAL.undo
    leak = ASSESS_LEAK.answer(7, rehearsal)
    assert leak.categories == ["credentials"]
    assert [key.key_id for key in leak.keys] == ["AKIAIOSFODNN7EXAMPLE"]
    plan = MEMORY_PURGE_PLAN.answer(MemoryQuery(application="bot", session="s1"), rehearsal)
    assert plan.configured
    assert ROLLBACK_MODEL.retry.heartbeat is not None


async def test_a_step_given_an_activity_name_fails_saying_so(
    playbook_harness: HarnessFactory,
) -> None:
    harness = await playbook_harness(NamesItsActivity)
    await harness.run(make_alert(), playbook="test-contract-by-name")
    failed = await harness.wait_for_timeline("playbook.failed")
    assert "step 'rotate': pass the activity's contract" in failed.message
    assert "not 'rotate_key'" in failed.message


UNIMPLEMENTED_PLAYBOOK = """\
from smokejumper.sdk import Contract, IncidentStart, Playbook, playbook

ROTATE = Contract("rotate_key", str, str)


@playbook
class Rotate(Playbook):
    name = "rotate-key"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("rotate", ROTATE, incident.ref)
"""


def test_smokejumper_worker_refuses_a_contract_nobody_implements(tmp_path: Path) -> None:
    (tmp_path / "pb").mkdir()
    (tmp_path / "pb" / "rotate.py").write_text(UNIMPLEMENTED_PLAYBOOK)
    config = tmp_path / "smokejumper.toml"
    # An unreachable Temporal: the check must come before any connection.
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\nplaybook_dirs = ["{tmp_path / "pb"}"]\n'
        '[temporal]\naddress = "127.0.0.1:1"\n'
    )
    result = CliRunner().invoke(app, ["-c", str(config), "worker"])
    assert result.exit_code == 2, result.output
    assert "activity contracts not met: 'rotate_key' has no implementation" in result.output
