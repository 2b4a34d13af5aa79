"""Provider activities on task queues of their own (`temporal.integration_queues`), served
by `smokejumper worker --queues ...` on the host that holds the provider's credentials.

End to end on the dev server: the key family is routed to its own queue; with only the
playbook worker running, a leak's revocation waits, `/healthz` names the queue and the
incident's timeline says what it waits for; a `smokejumper worker --queues keys` process,
holding the only copy of the key store, then revokes the key and the response carries on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from typer.testing import CliRunner

from activities.queues import QueueActivities
from cli.main import app as cli_app
from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from integrations.local_state import read_records
from playbooks.data_leakage import SensitiveDataLeakage
from smokejumper.config import ConfigError, Settings, load_settings
from smokejumper.contracts.base import implemented_names
from smokejumper.contracts.endpoints import ISOLATE_ENDPOINT, RESTORE_ENDPOINT
from smokejumper.contracts.keys import RESTORE_KEY, RESTORE_KEYS, REVOKE_KEY, REVOKE_KEYS
from smokejumper.contracts.models import RESTORE_MODEL, ROLLBACK_MODEL
from smokejumper.contracts.queues import QueueQuestion, QueueRoute
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import load_inventory
from smokejumper.store.db import Store
from smokejumper.temporal.queues import FAMILY_ACTIVITIES
from testkit import replay
from tests.engine import engine_on
from tests.playbooks.conftest import APPROVERS, Responder, inventory
from tests.playbooks.test_data_leakage import leak_alert
from workers.integration_worker import family_activities
from workers.worker import worker_parts

REVOKE_STEP = "revoke key key-support-web"


def _names(activities: list[Any]) -> set[str]:
    return set(implemented_names(activities))


@contextmanager
def queue_worker(settings: Settings, keys_home: Path, *queues: str) -> Iterator[None]:
    """`smokejumper worker --queues ...` as its own process: the database and Temporal of
    the engine, and a data dir (with the key store) of its own."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SMOKEJUMPER_")},
        "SMOKEJUMPER_DATA_DIR": str(keys_home),
        "SMOKEJUMPER_DATABASE_URL": settings.effective_database_url,
        "SMOKEJUMPER_TEMPORAL__ADDRESS": settings.temporal.target,
        "SMOKEJUMPER_TEMPORAL__TASK_QUEUE": settings.temporal.task_queue,
        "SMOKEJUMPER_TEMPORAL__INTEGRATION_QUEUES": '["keys"]',
    }
    log = (keys_home / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "worker", "--queues", ",".join(queues)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        yield
        assert process.poll() is None, (keys_home / "worker.log").read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()


async def _health(responder: Responder) -> dict[str, Any]:
    response = await responder.engine.http.get("/healthz")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.slow
async def test_a_routed_step_waits_for_its_worker_and_runs_once_it_starts(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    keys_home = tmp_path / "keys-host"
    keys_home.mkdir()
    # The only store holding the leaked key is the keys host's: the playbook worker cannot
    # revoke it, only the worker serving the keys queue can.
    LocalKeys(keys_home / "keys.json").create("key-support-web")
    async with engine_on(
        tmp_path,
        database_url,
        temporal_env,
        approvers=APPROVERS,
        temporal={"integration_queues": ["keys"], "queue_check_seconds": 1},
    ) as engine:
        settings = engine.settings
        import_inventory(engine.store, load_inventory(inventory()))
        LocalEndpoints(settings.local_endpoints_file).create("support-bot-prod")
        responder = Responder(engine)

        # The playbook worker has no key activities (nor key providers) at all.
        main = _names(worker_parts(settings, engine.store).activities)
        assert not main & FAMILY_ACTIVITIES["keys"]
        assert FAMILY_ACTIVITIES["endpoints"] <= main

        ref = await responder.send(leak_alert())
        waiting = await responder.wait_for(ref, "step.waiting", REVOKE_STEP)
        assert "waiting for a worker for keys" in waiting["message"]
        assert waiting["data"]["task_queue"] == f"{settings.temporal.task_queue}.keys"
        health = await _health(responder)
        assert health["status"] == "degraded"
        assert health["integration_queues"] == {"keys": "no worker"}
        assert health["waiting_for_workers"] == ["keys"]
        # The playbook worker itself is fine: only the keys queue lacks one.
        assert health["components"]["worker"] == "ok"
        # Nothing after the revocation ran: containment comes first.
        kinds = [(e["kind"], e["step"]) for e in await responder.timeline(ref)]
        assert ("step.completed", REVOKE_STEP) not in kinds
        assert ("step.started", "block principal") not in kinds

        with queue_worker(settings, keys_home, "keys"):
            done = await responder.wait_for(ref, "step.completed", REVOKE_STEP)
            assert done["message"] == f"Step {REVOKE_STEP} completed"
            # The response carries on from there: the user is blocked, the DPO is asked.
            await responder.wait_for_approval(ref, "gdpr notification")
            health = await _health(responder)
            assert health["integration_queues"] == {"keys": "ok"}
            assert "waiting_for_workers" not in health

        assert LocalKeys(keys_home / "keys.json").state("key-support-web").status == "inactive"
        [revocation] = responder.actions("revoke_key")
        assert (revocation.status, revocation.verified, revocation.attempts) == (
            "completed",
            True,
            1,
        )
        # The playbook host never held the key.
        assert "key-support-web" not in read_records(settings.local_keys_file, "keys")
        kinds = [(e["kind"], e["step"]) for e in await responder.timeline(ref)]
        assert kinds.index(("step.waiting", REVOKE_STEP)) < kinds.index(
            ("step.completed", REVOKE_STEP)
        )
        assert ("step.started", "block principal") in kinds

        # In Temporal's terms: the revocation went to the keys queue, the rest stayed; and
        # the run's history replays (the queue is recorded, not read again).
        history = await engine.client.get_workflow_handle(
            (await responder.detail(ref))["workflow_id"]
        ).fetch_history()
        queues = {
            e.activity_task_scheduled_event_attributes.activity_type.name: (
                e.activity_task_scheduled_event_attributes.task_queue.name
            )
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
        }
        assert queues["revoke_key"] == f"{settings.temporal.task_queue}.keys"
        assert queues["block_principal"] == settings.temporal.task_queue
        await replay(history, SensitiveDataLeakage)


async def test_a_provider_entry_wins_over_its_family_and_others_stay_on_the_playbook_queue(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        temporal={"task_queue": "sj", "integration_queues": ["keys.aws_iam", "endpoints"]},
    )
    queues = QueueActivities(settings.temporal)
    env = ActivityEnvironment()

    async def ask(activity: str, provider: str | None) -> QueueRoute:
        answer: QueueRoute = await env.run(
            queues.integration_queue, QueueQuestion(activity=activity, provider=provider)
        )
        return answer

    assert (await ask("revoke_key", "aws_iam")).task_queue == "sj.keys.aws_iam"
    assert (await ask("restore_key", "aws_iam")).route == "keys.aws_iam"
    assert (await ask("revoke_key", "local")).task_queue is None
    assert (await ask("isolate_endpoint", "kubernetes")).task_queue == "sj.endpoints"
    assert (await ask("block_principal", None)).task_queue is None

    # Keys routed for one provider only: the playbook worker still revokes the others'.
    store = Store("sqlite:///:memory:")
    try:
        main = _names(worker_parts(settings, store).activities)
    finally:
        store.dispose()
    assert FAMILY_ACTIVITIES["keys"] <= main
    assert not FAMILY_ACTIVITIES["endpoints"] & main


def test_each_family_worker_runs_exactly_its_contracts() -> None:
    contracts = {
        "keys": {REVOKE_KEY.name, RESTORE_KEY.name, REVOKE_KEYS.name, RESTORE_KEYS.name},
        "endpoints": {ISOLATE_ENDPOINT.name, RESTORE_ENDPOINT.name},
        "models": {ROLLBACK_MODEL.name, RESTORE_MODEL.name},
    }
    assert {family: set(names) for family, names in FAMILY_ACTIVITIES.items()} == contracts
    store = Store("sqlite:///:memory:")
    try:
        for family, names in contracts.items():
            assert _names(family_activities(family, store, Settings())) == names
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("routes", "queues", "said"),
    [
        ('["keys"]', "endpoints", "'endpoints' is not in temporal.integration_queues (keys)"),
        ("[]", "keys", "'keys' is not in temporal.integration_queues (empty)"),
        ('["keys"]', " , ", "--queues: name at least one entry"),
        ('["keys.nope"]', "keys.nope", "keys has no provider 'nope' (known: aws_iam, "),
        ('["slack"]', "slack", "'slack' is not a provider family (keys, endpoints, models)"),
    ],
)
def test_a_worker_for_a_queue_nothing_is_routed_to_is_refused(
    tmp_path: Path, routes: str, queues: str, said: str
) -> None:
    env = {
        "SMOKEJUMPER_DATA_DIR": str(tmp_path),
        "SMOKEJUMPER_TEMPORAL__INTEGRATION_QUEUES": routes,
        # Nothing listens here: a refusal must come before any connection.
        "SMOKEJUMPER_TEMPORAL__ADDRESS": "127.0.0.1:9",
    }
    result = CliRunner().invoke(cli_app, ["worker", "--queues", queues], env=env)
    assert result.exit_code == 2, result.output
    assert said in result.output


def test_the_playbook_worker_refuses_a_route_to_an_unknown_provider(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, temporal={"integration_queues": ["models.nope"]})
    store = Store("sqlite:///:memory:")
    try:
        with pytest.raises(ConfigError, match="models has no provider 'nope'"):
            worker_parts(settings, store)
    finally:
        store.dispose()
