"""`smokejumper tasks list|add|done` and `smokejumper incidents ack` as a user types them,
against a running engine (API, worker, Temporal dev server): a playbook waiting on its
task goes on when the CLI marks it done; refusals are messages and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from smokejumper.store.tables import AuditEntry, Incident, TimelineEvent
from tests.case_work.task_playbooks import TwoTasks
from tests.engine import Engine, engine_on
from tests.helpers import eventually
from tests.test_end_to_end import example


def results(engine: Engine) -> list[str]:
    with engine.store.session() as session:
        return list(
            session.scalars(
                select(TimelineEvent.message)
                .where(TimelineEvent.kind == "test.task_result")
                .order_by(TimelineEvent.id)
            )
        )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_tasks_and_ack_from_the_cli(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    async with engine_on(
        tmp_path,
        database_url,
        temporal_env,
        workflows=[TwoTasks],
        routes=[{"playbook": TwoTasks.name, "kinds": ["prompt_injection"]}],
    ) as engine:
        accepted = await engine.http.post("/api/v1/alerts", json=example(kind="prompt_injection"))
        assert accepted.status_code == 202, accepted.text
        ref = accepted.json()["incident_id"]

        async def playbook_task() -> list[dict[str, object]] | None:
            listed = await engine.cli("tasks", "list", ref, "--json")
            assert listed.exit_code == 0, listed.output
            found: list[dict[str, object]] = json.loads(listed.output)
            return found or None

        [made] = await eventually(playbook_task, within=30)
        assert (made["id"], made["state"], made["playbook"]) == (1, "open", True)

        added = await engine.cli(
            "tasks", "add", ref, "Check the vendor's logs", "--owner", "bob", "--due-minutes", "30"
        )
        assert added.exit_code == 0, added.output
        assert f"task 2 added to {ref}: Check the vendor's logs" in added.output

        table = await engine.cli("tasks", "list", ref)
        assert table.exit_code == 0, table.output
        assert "Check the vendor's logs" in table.output and "bob" in table.output

        done = await engine.cli("tasks", "done", ref, "1", "--note", "rotated at 14:02")
        assert done.exit_code == 0, done.output
        assert f"task 1 of {ref} done" in done.output

        async def went_on() -> list[str]:
            return results(engine)

        assert (await eventually(went_on))[0] == ("Rotate the leaked key by hand: done by operator")
        opened = await engine.cli("tasks", "list", ref, "--open", "--json")
        assert [t["id"] for t in json.loads(opened.output)] == [2, 3]

        # Refusals: a message naming what is wrong, and a non-zero exit.
        again = await engine.cli("tasks", "done", ref, "1")
        assert again.exit_code == 1 and "already done by operator" in again.output
        missing = await engine.cli("tasks", "done", ref, "99")
        assert missing.exit_code == 1 and f"{ref} has no task 99" in missing.output
        nowhere = await engine.cli("tasks", "list", "INC-1999-0001")
        assert nowhere.exit_code == 1 and "no incident" in nowhere.output
        not_a_number = await engine.cli("tasks", "done", ref, "first")
        assert not_a_number.exit_code == 2 and "Invalid value for 'task'" in not_a_number.output
        empty = await engine.cli("tasks", "add", ref, "")
        assert empty.exit_code == 1 and "title" in empty.output
        too_soon = await engine.cli("tasks", "add", ref, "Later", "--due-minutes", "0")
        assert too_soon.exit_code == 1 and "due_minutes" in too_soon.output

        acked = await engine.cli("incidents", "ack", ref)
        assert acked.exit_code == 0, acked.output
        assert f"{ref} acknowledged by operator" in acked.output
        twice = await engine.cli("incidents", "ack", ref)
        assert twice.exit_code == 1 and "already acknowledged" in twice.output

        with engine.store.session() as session:
            incident = session.scalars(select(Incident).where(Incident.ref == ref)).one()
            assert incident.status == "acknowledged"
            vias = {
                (entry.action, entry.data["via"])
                for entry in session.scalars(select(AuditEntry))
                if entry.action in ("task.created", "task.completed", "incident.acknowledged")
            }
        assert vias == {
            ("task.created", "cli"),
            ("task.created", "playbook"),
            ("task.completed", "cli"),
            ("incident.acknowledged", "cli"),
        }
