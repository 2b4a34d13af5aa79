"""Telling suppliers, end to end: a leak through an endpoint a third party serves e-mails
its security contact once, through a real SMTP server, with the facts and none of the
leaked data; mail that cannot go out is a follow-up and containment stands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.suppliers import SupplierActivities
from smokejumper.domain.suppliers import ComponentRef, SupplierNotice
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import load_inventory
from tests.helpers import free_port
from tests.integrations.email.conftest import Mailbox, mailbox
from tests.playbooks.conftest import Responder, inventory, responder_on
from tests.playbooks.test_data_leakage import assert_redacted, leak_alert

__all__ = ["mailbox"]
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CONTACT = "psirt@hosted-llm.example"


def supplied_inventory() -> dict[str, Any]:
    data = inventory()
    data["suppliers"] = [
        {"name": "hosted-llm", "kind": "model_provider", "security_contact": CONTACT}
    ]
    for endpoint in data["endpoints"]:
        if endpoint["name"] == "support-bot-prod":
            endpoint["supplier"] = "hosted-llm"
    for model in data["models"]:
        if model["name"] == "support-llm":
            model["supplier"] = "hosted-llm"
    return data


@pytest_asyncio.fixture
async def responder_mailed(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment, mailbox: Mailbox
) -> AsyncIterator[Responder]:
    async with responder_on(
        tmp_path, database_url, temporal_env, email=mailbox.settings()
    ) as responder:
        import_inventory(responder.engine.store, load_inventory(supplied_inventory()))
        yield responder


async def test_the_supplier_of_the_leaking_endpoint_is_told_once(
    responder_mailed: Responder, mailbox: Mailbox
) -> None:
    responder = responder_mailed
    ref = await responder.send(leak_alert())
    await responder.decide(ref, "gdpr notification", False, "test data only")
    await responder.done_by_hand(ref, "rotate leaked credentials", "database password rotated")
    await responder.wait_for(ref, "playbook.finished")

    [(recipients, mail)] = mailbox.received
    assert recipients == [CONTACT]
    assert (
        mail["Subject"] == f"[Security incident {ref}] endpoint support-bot-prod, model support-llm"
    )
    assert mail["Reply-To"] == "security@smokejumper.example"
    body = mail.get_content()
    assert "credentials" in body and "What we ask of you" in body
    assert_redacted(str(mail))
    told = await responder.wait_for(ref, "supplier.notified")
    assert told["message"] == (
        "Told hosted-llm's security contact about endpoint support-bot-prod, model support-llm "
        "by e-mail"
    )
    assert told["data"]["to"] == CONTACT
    assert (await responder.detail(ref))["status"] in ("contained", "closed", "resolved")

    # The activity again (a retry): nobody is mailed twice.
    activities = SupplierActivities(responder.engine.store, responder.settings)
    notice = SupplierNotice(
        incident_id=int(ref.rsplit("-", 1)[1]),
        ref=ref,
        components=[ComponentRef(type="endpoint", name="support-bot-prod")],
        finding="again",
        asked="again",
    )
    again = await ActivityEnvironment().run(activities.notify_suppliers, notice)
    assert [t.supplier for t in again.told] == ["hosted-llm"]
    assert len(mailbox.received) == 1


async def test_mail_that_cannot_go_out_is_a_follow_up(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    down = {
        "host": "127.0.0.1",
        "port": free_port(),
        "security": "none",
        "from_address": "ir@smokejumper.example",
        "timeout_seconds": 1,
    }
    async with responder_on(tmp_path, database_url, temporal_env, email=down) as responder:
        import_inventory(responder.engine.store, load_inventory(supplied_inventory()))
        ref = await responder.send(leak_alert())
        left = await responder.wait_for(ref, "follow_up")
        assert left["message"].startswith(
            "Tell the suppliers of endpoint support-bot-prod, model support-llm about"
        )
        assert "cannot deliver" in left["message"]
        await responder.decide(ref, "gdpr notification", False, "test data only")
        await responder.done_by_hand(ref, "rotate leaked credentials", "password rotated")
        await responder.wait_for(ref, "playbook.finished")
        assert (await responder.detail(ref))["status"] == "contained"


async def test_first_party_components_tell_nobody(responder: Responder) -> None:
    ref = await responder.send(leak_alert())
    await responder.decide(ref, "gdpr notification", False, "test data only")
    await responder.wait_for(ref, "playbook.finished")
    kinds = [e["kind"] for e in await responder.timeline(ref)]
    assert "supplier.notified" not in kinds
    assert not [e for e in await responder.timeline(ref) if "Tell the suppliers" in e["message"]]
