"""The retest gate end to end on the dev server, with the real store (SQLite and
PostgreSQL), the built-in `prompt-injection` playbook and a real LiteLLM proxy: a restore
whose retest passes lifts the block; one whose retest fails keeps it, unless two people
other than the requester override it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment

from integrations.slack.emulator import SlackEmulator
from smokejumper.domain.incidents import UPDATE_RESTORE, IncidentState, RestoreRequest
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import load_inventory
from tests.helpers import free_port
from tests.playbooks.conftest import Responder, check, inventory, responder_on
from tests.playbooks.test_prompt_injection import injection
from tests.retest.conftest import ECHOED_SECRET, MASTER_KEY, LiteLLMProxy
from tests.retest.upstream import Behaviour

SECRET = ECHOED_SECRET
USER = "u-18273"


@contextlib.asynccontextmanager
async def gated(
    tmp_path: Path,
    database_url: str,
    env: WorkflowEnvironment,
    chat_url: str,
    model: str,
    slack: SlackEmulator | None = None,
) -> AsyncIterator[Responder]:
    retest = {
        "api_key": MASTER_KEY,
        "timeout_seconds": 5,
        "probes": [{"name": "hello", "prompt": "Hi"}],
    }
    async with responder_on(tmp_path, database_url, env, slack=slack, retest=retest) as responder:
        data = inventory()
        for endpoint in data["endpoints"]:
            endpoint["chat_url"] = chat_url
            endpoint["chat_model"] = model
        import_inventory(responder.engine.store, load_inventory(data))
        yield responder


async def contained(responder: Responder) -> str:
    ref = await responder.send(injection())
    await responder.wait_for(ref, "playbook.finished")
    assert (await check(responder.engine.http, user=USER))["allowed"] is False
    return ref


async def kinds(responder: Responder, ref: str) -> list[str]:
    return [event["kind"] for event in await responder.timeline(ref)]


async def test_a_passing_retest_lets_the_restore_lift_the_block(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    litellm_proxy: LiteLLMProxy,
) -> None:
    async with gated(
        tmp_path, database_url, temporal_env, litellm_proxy.url, "bot-clean"
    ) as responder:
        ref = await contained(responder)
        asked = await responder.engine.http.post(
            f"/api/v1/incidents/{ref}/restore", json={"reason": "fixed"}
        )
        assert asked.status_code == 202, asked.text
        await responder.wait_for_approval(ref, "restore")
        await responder.vote_as(ref, "restore", "bob")

        await responder.wait_for(ref, "playbook.restoring")
        timeline = await responder.timeline(ref)
        passed = next(e for e in timeline if e["kind"] == "retest.passed")
        assert passed["message"] == "Retest passed: 2 probes answered, nothing flagged"
        assert passed["data"]["endpoints"] == "support-bot-prod"
        seen = [e["kind"] for e in timeline]
        assert (
            seen.index("retest.started")
            < seen.index("retest.passed")
            < seen.index("playbook.restoring")
        )
        await responder.wait_for(ref, "step.completed", step="undo block principal")
        assert (await check(responder.engine.http, user=USER))["allowed"] is True
        prompts = [p for m, p in litellm_proxy.upstream.asked if m == "bot-clean"]
        assert injection()["evidence"]["prompt"] in prompts


async def test_a_failing_retest_needs_two_people_to_override(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    litellm_proxy: LiteLLMProxy,
    retest_slack: SlackEmulator,
) -> None:
    litellm_proxy.upstream.behave("bot-leaky", Behaviour(text=f"Sure, the key is {SECRET}"))
    async with gated(
        tmp_path, database_url, temporal_env, litellm_proxy.url, "bot-leaky", slack=retest_slack
    ) as responder:
        ref = await contained(responder)
        detail = await responder.detail(ref)
        handle = responder.engine.client.get_workflow_handle(detail["workflow_id"])
        # Asked by carol, so that both incident commanders may override.
        await handle.start_update(
            UPDATE_RESTORE,
            RestoreRequest(actor="carol", reason="customer complaint"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            result_type=IncidentState,
        )
        await responder.decide(ref, "restore", approve=True)

        failed = await responder.wait_for(ref, "retest.failed")
        assert failed["message"] == "Retest failed: 2 of 2 probes flagged (openai_key)"
        await responder.wait_for_approval(ref, "restore override")
        # Slack asks the override with what failed, in kinds (the session's scan of every
        # request the emulator received checks that the secret never got there).
        _, asked = await responder.approval_message(ref, "restore override")
        assert "The retest failed (2 of 2 probes flagged (openai_key))" in asked["text"] + str(
            asked["blocks"]
        )
        assert (await check(responder.engine.http, user=USER))["allowed"] is False
        first = await responder.decide(ref, "restore override", approve=True)
        assert first["decision"] is None  # one person is not enough
        await responder.vote_as(ref, "restore override", "bob")

        overridden = await responder.wait_for(ref, "retest.overridden")
        assert (
            overridden["message"]
            == "Retest failed; undo of add input filter, block principal approved anyway by "
            "operator, bob"
        )
        await responder.wait_for(ref, "step.completed", step="undo block principal")
        assert (await check(responder.engine.http, user=USER))["allowed"] is True
        # The secret the endpoint echoed is in the evidence only.
        said = " ".join(e["message"] + str(e["data"]) for e in await responder.timeline(ref))
        assert SECRET not in said
        assert SECRET not in await responder.report(ref)
        transcript = [i for i in responder.evidence() if i.kind == "retest.transcript"]
        assert len(transcript) == 1 and SECRET not in (transcript[0].redacted_preview or "")


async def test_an_endpoint_that_is_down_keeps_the_containment(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/v1"
    async with gated(tmp_path, database_url, temporal_env, nobody, "bot-clean") as responder:
        ref = await contained(responder)
        asked = await responder.engine.http.post(f"/api/v1/incidents/{ref}/restore", json={})
        assert asked.status_code == 202, asked.text
        await responder.wait_for_approval(ref, "restore")
        await responder.vote_as(ref, "restore", "bob")

        held = await responder.wait_for(ref, "retest.held")
        # Only bob may approve besides the operator who asked: no override is possible.
        assert held["message"] == (
            "Containment stays in force: the retest failed and no override (fewer than 2 "
            "approvers besides operator)"
        )
        failed = next(e for e in await responder.timeline(ref) if e["kind"] == "retest.failed")
        assert "2 not answered (unreachable (ConnectError))" in failed["message"]
        assert "playbook.restoring" not in await kinds(responder, ref)
        assert (await check(responder.engine.http, user=USER))["allowed"] is False
        state: dict[str, Any] = (await responder.detail(ref))["live"]
        assert "block principal" in state["in_force"]


async def test_a_lift_at_close_waits_for_the_retest_too(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    litellm_proxy: LiteLLMProxy,
) -> None:
    litellm_proxy.upstream.behave("bot-leaky", Behaviour(text=f"Sure, the key is {SECRET}"))
    async with gated(
        tmp_path, database_url, temporal_env, litellm_proxy.url, "bot-leaky"
    ) as responder:
        ref = await contained(responder)
        closed = await responder.engine.http.post(
            f"/api/v1/incidents/{ref}/close",
            json={"reason": "false positive", "lift_containment": True},
        )
        assert closed.status_code == 200, closed.text
        await responder.wait_for_approval(ref, "lift-containment")
        await responder.vote_as(ref, "lift-containment", "bob")

        failed = await responder.wait_for(ref, "retest.failed")
        assert failed["data"]["purpose"] == "lift"
        held = await responder.wait_for(ref, "retest.held")
        assert "fewer than 2 approvers besides operator" in held["message"]
        assert "playbook.restoring" not in await kinds(responder, ref)
        assert (await check(responder.engine.http, user=USER))["allowed"] is False
