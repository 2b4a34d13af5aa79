"""Tasks and SLAs in Slack, end to end on the Web API emulator and the dev server.

A playbook waits on `await self.task(...)`: its task's message in the card's thread has a
"Mark done" button; a linked responder's click completes it (an unlinked one is refused
where only they see it) and the playbook goes on. Its next task is completed over the HTTP
route, and again the playbook goes on and the message is marked done. `/smokejumper task`
and `done` add and complete a responder's task; `ack` is the audited acknowledge. The
scheduler's SLA breaches reach the incident's channel, in order, masked.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from temporalio.testing import WorkflowEnvironment

from integrations.slack.emulator import SlackEmulator
from smokejumper.store.tables import AuditEntry, Incident, IncidentTask, TimelineEvent
from tests.case_work.task_playbooks import TwoTasks
from tests.engine import Engine, engine_on
from tests.helpers import eventually
from tests.slack.conftest import (
    ALICE,
    STRANGER,
    USERS,
    click,
    command,
    post_signed,
    scanned_emulator,
    slack_config,
    terminate_relays,
)
from tests.slack.planted import OPENAI_KEY, PLANTED
from tests.slack.test_flow import ephemeral, messages, open_incident
from workers.scheduler import Scheduler


@pytest.fixture(scope="module")
def slack_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackEmulator]:
    """The emulator, scanned at the end for the planted secrets (task titles carry one)."""
    with scanned_emulator(tmp_path_factory.mktemp("slack"), USERS, PLANTED) as emulator:
        yield emulator


async def slash(engine: Engine, text: str, user: str = ALICE) -> dict[str, Any]:
    response = await post_signed(engine.http, "/slack/commands", command(text, user))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def said(answer: dict[str, Any]) -> str:
    return json.dumps(answer, ensure_ascii=False)


async def task_message(emulator: SlackEmulator, channel: str, number: int) -> dict[str, Any]:
    """Task `number`'s message in the card's thread, as the responder's client shows it."""

    async def find() -> dict[str, Any] | None:
        return next(
            (
                m
                for m in messages(emulator, channel)
                if m["text"].startswith(f"Task {number} on ") and "thread_ts" in m
            ),
            None,
        )

    return copy.deepcopy(await eventually(find))


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        element["text"]["text"]
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


async def marked_done(emulator: SlackEmulator, channel: str, ts: str) -> str:
    async def done() -> str | None:
        now = emulator.message(channel, ts)
        text = json.dumps(now["blocks"], ensure_ascii=False)
        return text if "Done by" in text and not buttons(now) else None

    return await eventually(done)


def results(engine: Engine) -> list[str]:
    with engine.store.session() as session:
        return list(
            session.scalars(
                select(TimelineEvent.message)
                .where(TimelineEvent.kind == "test.task_result")
                .order_by(TimelineEvent.id)
            )
        )


def task_row(engine: Engine, task_id: int) -> IncidentTask:
    with engine.store.session() as session:
        row = session.get(IncidentTask, task_id)
        assert row is not None
        return row


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_tasks_and_slas_in_slack(
    tmp_path: Path,
    database_url: str,
    temporal_env: WorkflowEnvironment,
    slack_emulator: SlackEmulator,
) -> None:
    emulator = slack_emulator
    async with engine_on(
        tmp_path,
        database_url,
        temporal_env,
        workflows=[TwoTasks],
        slack=slack_config(emulator, tmp_path),
        approvers={"oncall": ["alice", "bob"], "leads": ["carol"]},
        routes=[{"playbook": TwoTasks.name, "kinds": ["data_leakage"]}],
        slas={"critical": {"acknowledge_minutes": 15, "contain_minutes": 60}},
    ) as engine:
        try:
            await _run(engine, emulator)
        finally:
            await terminate_relays(engine)


async def _run(engine: Engine, emulator: SlackEmulator) -> None:
    ref, channel = await open_incident(engine, emulator)

    # The playbook's first task: its message in the card's thread has the button.
    first = await task_message(emulator, channel, 1)
    assert buttons(first) == ["Mark done"]
    assert "Rotate the leaked key by hand" in first["text"]

    mark = emulator.mark()
    refused = await post_signed(
        engine.http, "/slack/interactions", click(first, channel, STRANGER, "task_done")
    )
    assert refused.status_code == 200
    assert "not linked to a responder" in await ephemeral(emulator, mark, STRANGER)
    assert task_row(engine, 1).state == "open"

    mark = emulator.mark()
    clicked = await post_signed(
        engine.http, "/slack/interactions", click(first, channel, ALICE, "task_done")
    )
    assert clicked.status_code == 200
    assert "Task 1 of" in await ephemeral(emulator, mark, ALICE)
    done = task_row(engine, 1)
    assert (done.state, done.completed_by) == ("done", "alice")

    async def went_on(count: int) -> list[str] | None:
        found = results(engine)
        return found if len(found) >= count else None

    assert (await eventually(lambda: went_on(1)))[0] == (
        "Rotate the leaked key by hand: done by alice"
    )
    assert "<@U0ALICE01>" in await marked_done(emulator, channel, first["ts"])
    with engine.store.session() as session:
        via = session.scalars(
            select(TimelineEvent.data).where(TimelineEvent.kind == "task.completed")
        ).first()
    assert via is not None and via["via"] == "slack"

    # A second click on the stale message: told it is done already, nothing changes.
    mark = emulator.mark()
    await post_signed(engine.http, "/slack/interactions", click(first, channel, ALICE, "task_done"))
    assert "already done by alice" in await ephemeral(emulator, mark, ALICE)

    # The playbook's second task, completed over the HTTP route: it goes on too.
    second = await task_message(emulator, channel, 2)
    answer = await engine.http.post(
        f"/api/v1/incidents/{ref}/tasks/2/complete", json={"note": "vendor called"}
    )
    assert answer.status_code == 200, answer.text
    assert (await eventually(lambda: went_on(2)))[1] == "Tell the vendor: done by operator"
    assert "vendor called" in await marked_done(emulator, channel, second["ts"])

    # A responder's task from the slash command, its title masked in Slack.
    added = await slash(engine, f"task {ref} Revoke {OPENAI_KEY} at the provider")
    assert added["response_type"] == "in_channel", added
    assert "Task 3 added" in said(added) and OPENAI_KEY not in said(added)
    third = await task_message(emulator, channel, 3)
    assert buttons(third) == ["Mark done"] and "Revoke" in third["text"]
    assert OPENAI_KEY not in json.dumps(third)
    assert task_row(engine, 3).via == "slack"

    assert "not linked" in said(await slash(engine, f"done {ref} 3", user=STRANGER))
    assert "is not a task id" in said(await slash(engine, f"done {ref} three"))
    assert "has no task 99" in said(await slash(engine, f"done {ref} 99"))
    assert "There is no incident" in said(await slash(engine, "task INC-1999-0001 Look"))
    assert "Usage" in said(await slash(engine, f"task {ref}"))
    assert "Not added: the title" in said(await slash(engine, f"task {ref} {'x' * 301}"))
    assert "is not a task id" in said(await slash(engine, f"done {ref} {10**20}"))
    assert "Not done: the note" in said(await slash(engine, f"done {ref} 3 {'y' * 2001}"))
    completed = await slash(engine, f'done {ref} 3 revoked, "rotated" too')
    assert completed["response_type"] == "in_channel", completed
    row = task_row(engine, 3)
    assert (row.state, row.completed_by, row.completion_note) == (
        "done",
        "alice",
        'revoked, "rotated" too',
    )
    await marked_done(emulator, channel, third["ts"])

    # The scheduler's SLA check: both targets long past (the incident opened 2 h ago).
    with engine.store.transaction() as session:
        opened = session.scalars(select(Incident.opened_at)).one()
        session.execute(update(Incident).values(opened_at=opened - timedelta(hours=2)))
    scheduler = Scheduler(engine.settings, engine.store)
    await scheduler.renew_lease()
    assert await scheduler.check_slas() == 2

    async def breaches() -> list[str] | None:
        found = [
            m["text"]
            for m in messages(emulator, channel)
            if "SLA breached" in m["text"] and "thread_ts" not in m
        ]
        return found if len(found) == 2 else None

    announced = await eventually(breaches)
    assert "acknowledge within 15 min" in announced[0]
    assert "contain within 60 min" in announced[1]
    assert OPENAI_KEY not in json.dumps(messages(emulator, channel))
    await scheduler.close()

    # `ack` from Slack is the audited acknowledge the API does.
    acked = await slash(engine, f"ack {ref}")
    assert f"{ref} acknowledged by alice" in said(acked)
    assert "already acknowledged" in said(await slash(engine, f"ack {ref}"))
    with engine.store.session() as session:
        incident = session.scalars(select(Incident)).one()
        assert incident.status == "acknowledged" and incident.acknowledged_at is not None
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "incident.acknowledged")
        ).one()
        assert (audited.actor, audited.data["via"]) == ("alice", "slack")
