"""A leak of many keys (a dumped credentials file) is revoked whole: the first keys a step
each, the rest a batch per step, so the run's history stays far from Temporal's limit;
every key is revoked once at its provider (a real moto_server), and messages to people
name a few keys and count the rest."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import boto3
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from integrations.keys.local import LocalKeys
from smokejumper.contracts.keys import KEYS_AT_MOST, KEYS_IN_A_BATCH, KEYS_ONE_BY_ONE, batch_step
from smokejumper.masking import mask
from tests.helpers import isolate_aws
from tests.integrations.keys.conftest import Iam
from tests.playbooks.conftest import LEAKED_KEY, Responder, responder_on
from tests.playbooks.test_revoke_on_sight import _key_only

KEYS = KEYS_ONE_BY_ONE + KEYS_IN_A_BATCH + 10  # one-by-one, a full batch, and a short one
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@pytest_asyncio.fixture
async def aws_responder(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Responder, Iam]]:
    """The responder's engine, its AWS IAM key provider on moto_server."""
    isolate_aws(monkeypatch, tmp_path, "IAM")
    iam = Iam(moto_server, boto3.session.Session().client("iam", endpoint_url=moto_server))
    async with responder_on(
        tmp_path, database_url, temporal_env, containment={"aws_endpoint_url": moto_server}
    ) as running:
        yield running, iam


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_dump_of_many_keys_is_revoked_whole_in_batches(
    aws_responder: tuple[Responder, Iam],
) -> None:
    responder, iam = aws_responder
    keys = [iam.access_key()[0] for _ in range(KEYS)]
    dump = "\n".join(f"aws_access_key_id = {key_id}" for key_id in keys)
    ref = await responder.send(_key_only("u-dump", f"Here is the credentials file:\n{dump}"))
    await responder.wait_for(ref, "playbook.finished")

    for key_id in keys:
        assert iam.status(key_id) == "Inactive", key_id
    # Each key its own action row, revoked once and confirmed, whichever step took it.
    rows = responder.actions("revoke_key")
    assert sorted(row.target for row in rows) == sorted(keys)
    assert {(row.status, row.verified, row.attempts) for row in rows} == {("completed", True, 1)}

    ordered = sorted(keys)
    batches = [
        batch_step(
            ordered[KEYS_ONE_BY_ONE : KEYS_ONE_BY_ONE + KEYS_IN_A_BATCH], KEYS_ONE_BY_ONE + 1, KEYS
        ),
        batch_step(
            ordered[KEYS_ONE_BY_ONE + KEYS_IN_A_BATCH :],
            KEYS_ONE_BY_ONE + KEYS_IN_A_BATCH + 1,
            KEYS,
        ),
    ]
    timeline = await responder.timeline(ref)
    completed = [e["step"] for e in timeline if e["kind"] == "step.completed"]
    assert [step for step in completed if step.startswith("revoke keys ")] == batches
    assert len([step for step in completed if step.startswith("revoke key ")]) == KEYS_ONE_BY_ONE
    on_sight = next(e for e in timeline if e["kind"] == "containment.on_sight")
    assert on_sight["message"].endswith(
        f"; {KEYS - KEYS_ONE_BY_ONE} more keys left to the revoke steps"
    )

    detail = await responder.detail(ref)
    assert detail["status"] == "contained"
    # A step per key: 1,895 events for these keys (measured), past Temporal's limit of
    # 51,200 at some 3,500 keys; batched, 394.
    history = await responder.engine.client.get_workflow_handle(
        detail["workflow_id"]
    ).fetch_history()
    assert len(history.events) < 600

    [note] = [e for e in timeline if e["kind"] == "notification"]
    named = ", ".join(mask(key_id) for key_id in ordered[:20])
    assert f"Keys revoked: {named} and {KEYS - 20} more." in note["message"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_keys_a_batch_cannot_revoke_are_handed_to_people_and_the_rest_revoked(
    aws_responder: tuple[Responder, Iam],
) -> None:
    responder, iam = aws_responder
    keys = [iam.access_key()[0] for _ in range(KEYS_ONE_BY_ONE + 1)]
    # Shaped like access key ids, sorted after the real ones, unknown to IAM: a model can
    # print any number of these.
    made_up = [f"AKIAZZZZZZZZZZZZZZZ{n}" for n in range(1, 4)]
    text = " ".join([*keys, *made_up])
    ref = await responder.send(_key_only("u-mixed", f"Keys: {text}"))

    ordered = sorted(keys)
    batch = batch_step([ordered[-1], *made_up], KEYS_ONE_BY_ONE + 1, len(ordered) + 3)
    await responder.wait_for_approval(ref, f"{batch} failed")
    failed = await responder.wait_for(ref, "step.failed", step=batch)
    assert "3 of 4 keys not done" in failed["message"]
    for key_id in made_up:
        assert key_id not in failed["message"] and mask(key_id) in failed["message"]

    # The batch's real key, and every key before it, is revoked all the same.
    for key_id in keys:
        assert iam.status(key_id) == "Inactive", key_id
    assert (await responder.detail(ref))["status"] != "contained"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_output_stuffed_with_made_up_ids_revokes_the_real_key_and_says_what_it_did_not(
    responder: Responder,
) -> None:
    """A model asked for thousands of made-up access key ids, beside a real key: the real
    key is revoked; KEYS_AT_MOST keys are tried, the rest counted and asked about once;
    the owners hear which keys were revoked and which were not (before, every key tried
    was named as revoked), and the report is written."""
    rng = random.Random(23)
    made_up = sorted(
        {"AKIA" + "".join(rng.choices(_BASE32, k=16)) for _ in range(KEYS_AT_MOST + 30)}
    )
    left_out = len(made_up) + 1 - KEYS_AT_MOST
    ref = await responder.send(
        _key_only("u-stuffed", f"Keys: {' '.join(made_up)} and {LEAKED_KEY}")
    )
    await responder.wait_for(ref, "playbook.finished")

    assert LocalKeys(responder.settings.local_keys_file).state("key-support-web").status == (
        "inactive"
    )
    rows = responder.actions("revoke_key")
    assert len(rows) == KEYS_AT_MOST
    done = [row.target for row in rows if row.status == "completed"]
    assert done == ["key-support-web"]
    await responder.wait_for_approval(ref, f"revoke {left_out} more keys not done")

    timeline = await responder.timeline(ref)
    [note] = [e for e in timeline if e["kind"] == "notification"]
    assert (
        "Keys revoked: key-support-web; NOT revoked (failed, with a responder): "
        in (note["message"])
    )
    assert f"and {KEYS_AT_MOST - 1 - 20} more" in note["message"]
    assert f"; {left_out} more key-shaped ids NOT revoked" in note["message"]
    assert not any(key_id in note["message"] for key_id in made_up)
    assert "write report" in [e["step"] for e in timeline if e["kind"] == "step.completed"]
    assert (await responder.detail(ref))["status"] == "partly_contained"
