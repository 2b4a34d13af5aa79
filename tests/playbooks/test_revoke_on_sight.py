"""A leaked key is revoked on sight: in the run's first workflow task, before the playbook
writes anything or captures the evidence; its revoke step then records the same action
(one provider call), and what the first look could not revoke is left to that step."""

from __future__ import annotations

from datetime import datetime

from activities.assessment import AssessmentActivities
from activities.containment import ContainmentActivities
from activities.on_sight import OnSightActivities
from integrations.keys.local import LocalKeys
from smokejumper.contracts.keys import KEYS_ONE_BY_ONE
from smokejumper.store.tables import Incident
from tests.playbooks.conftest import LEAKED_KEY, Responder
from tests.playbooks.test_data_leakage import leak_alert

# Shaped like an AWS access key id, not in the inventory: the AWS IAM provider, which these
# tests do not configure, so revoking it fails.
AWS_KEY_ID = "AKIAZ3Q7X5M2W4PLQ7Q2"


def _key_only(user: str, response: str) -> dict[str, object]:
    """A leak of credentials only (no personal data: no DPO question holds the run)."""
    return leak_alert(
        title="Key in support-bot output",
        description="A key in the output",
        principal={"user": user},
        evidence={"prompt": "Summarise the ticket", "response": response},
    )


def _at(event: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(event["at"]))


async def test_the_key_is_revoked_before_the_run_writes_anything(responder: Responder) -> None:
    ref = await responder.send(_key_only("u-77", f"The key is {LEAKED_KEY}."))
    finished = await responder.wait_for(ref, "playbook.finished")
    assert finished

    keys = LocalKeys(responder.settings.local_keys_file)
    assert keys.state("key-support-web").status == "inactive"
    # One action row, one provider call: the revoke step found it done.
    [revocation] = responder.actions("revoke_key")
    assert (revocation.target, revocation.status, revocation.verified) == (
        "key-support-web",
        "completed",
        True,
    )
    assert revocation.attempts == 1
    assert revocation.step == "revoke key key-support-web"

    timeline = await responder.timeline(ref)
    kinds = [event["kind"] for event in timeline]
    on_sight = next(e for e in timeline if e["kind"] == "containment.on_sight")
    assert on_sight["message"] == (
        "Revoked on sight, before the evidence was captured: key-support-web"
    )
    started = next(e for e in timeline if e["kind"] == "playbook.started")
    # Revoked before the run's first timeline entry, and before the evidence was kept.
    assert revocation.started_at is not None
    assert revocation.started_at.replace(tzinfo=None) <= _at(started).replace(tzinfo=None)
    assert kinds.index("containment.on_sight") < kinds.index("leak.classified")
    # The step is still on the timeline, completed, as every containment step is.
    assert any(
        e["kind"] == "step.completed" and e["step"] == "revoke key key-support-web"
        for e in timeline
    )
    assert LEAKED_KEY not in on_sight["message"]


async def test_what_it_cannot_revoke_is_left_to_the_step(responder: Responder) -> None:
    ref = await responder.send(_key_only("u-78", f"Use {AWS_KEY_ID} to call the API."))
    on_sight = await responder.wait_for(ref, "containment.on_sight")
    assert on_sight["message"].startswith(
        "Revoked on sight, before the evidence was captured: none; left to the revoke steps: AKIA"
    )
    # Masked wherever people read it.
    assert AWS_KEY_ID not in on_sight["message"]
    # The step tried again, failed, and handed it to people: not contained.
    await responder.wait_for(ref, "step.failed")
    [revocation] = responder.actions("revoke_key")
    assert revocation.target == AWS_KEY_ID
    assert revocation.status != "completed"
    assert revocation.attempts >= 2
    detail = await responder.detail(ref)
    assert detail["status"] != "contained"


async def test_a_key_routed_to_an_integration_worker_is_left_to_it(
    responder: Responder,
) -> None:
    """This worker may not hold the credentials of a routed family: it does not try."""
    ref = await responder.send(_key_only("u-79", f"The key is {LEAKED_KEY}."))
    await responder.wait_for(ref, "playbook.finished")
    with responder.engine.store.session() as session:
        incident = session.query(Incident).filter(Incident.ref == ref).one()
    settings = responder.settings.model_copy(deep=True)
    settings.temporal.integration_queues = ["keys"]
    store = responder.engine.store
    activities = OnSightActivities(
        settings, AssessmentActivities(store, settings), ContainmentActivities(store, settings)
    )
    seen = await activities.revoke_leaked_keys(incident.id)
    assert seen.revoked == []
    assert seen.left == {"key-support-web": "runs on the keys integration worker"}


async def test_the_inventorys_key_goes_first_however_many_strings_look_like_keys(
    responder: Responder,
) -> None:
    """Output stuffed with made-up access key ids (which sort before `sj_…`, `sk-…`) does
    not push the inventory's leaked key behind them: it is revoked on sight and by the first
    step; the made-up ones fill the rest."""
    made_up = [f"AKIAZ3Q7X5M2W4PL{n:04d}" for n in range(KEYS_ONE_BY_ONE + 10)]
    ref = await responder.send(
        _key_only("u-80", f"Keys: {' '.join(made_up)} and the real one {LEAKED_KEY}.")
    )
    on_sight = await responder.wait_for(ref, "containment.on_sight")
    assert on_sight["message"].startswith(
        "Revoked on sight, before the evidence was captured: key-support-web; left to the "
        "revoke steps: AKIA"
    )
    assert on_sight["message"].endswith("; 11 more keys left to the revoke steps")
    keys = LocalKeys(responder.settings.local_keys_file)
    assert keys.state("key-support-web").status == "inactive"

    await responder.wait_for(ref, "step.completed", step="revoke key key-support-web")
    started = [
        e["step"]
        for e in await responder.timeline(ref)
        if e["kind"] == "step.started" and e["step"].startswith("revoke key")
    ]
    assert started[0] == "revoke key key-support-web"
