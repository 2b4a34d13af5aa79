"""Tasks and acknowledging over the REST API, on SQLite and PostgreSQL: what a responder
adds and completes is on the timeline and in the audit log with its surface; bad input is
a 4xx naming the field; viewers read but do not write."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from sqlalchemy import select

from smokejumper.app import create_app
from smokejumper.config import Settings
from smokejumper.security.operator import operator_token
from smokejumper.security.users import Role, add_user, issue_token
from smokejumper.store.db import Store
from smokejumper.store.tables import AuditEntry, TimelineEvent
from tests.helpers import insert_incident


@pytest_asyncio.fixture
async def api(
    migrated_store: Store, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings, str]]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    app = create_app(settings, migrated_store)
    token = operator_token(settings)
    with migrated_store.transaction() as session:
        viewer = add_user(session, f"vic-{uuid.uuid4().hex[:6]}", Role.VIEWER, None)
        _, viewer_token = issue_token(session, viewer, "test")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client, settings, viewer_token


async def test_tasks_added_listed_and_completed(
    api: tuple[httpx.AsyncClient, Settings, str], migrated_store: Store
) -> None:
    client, settings, viewer = api
    incident = insert_incident(migrated_store, playbook="p", fingerprint=uuid.uuid4().hex)
    base = f"/api/v1/incidents/{incident.ref}"
    made = await client.post(
        f"{base}/tasks",
        json={"title": "Tell the DPO", "owner": "dana", "due_minutes": 30},
        headers={"X-Smokejumper-Via": "cli"},
    )
    assert made.status_code == 201, made.text
    task = made.json()
    assert {k: task[k] for k in ("title", "owner", "state", "via", "created_by")} == {
        "title": "Tell the DPO",
        "owner": "dana",
        "state": "open",
        "via": "cli",
        "created_by": settings.operator,
    }
    assert task["due_at"] is not None and task["overdue"] is False
    listed = await client.get(f"{base}/tasks", params={"state": "open"})
    assert [t["id"] for t in listed.json()] == [task["id"]]

    done = await client.post(f"{base}/tasks/{task['id']}/complete", json={"note": "called"})
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["note"]) == ("done", "called")
    again = await client.post(f"{base}/tasks/{task['id']}/complete", json={})
    assert again.status_code == 409 and "already done" in again.json()["detail"]
    assert (await client.get(f"{base}/tasks", params={"state": "open"})).json() == []

    with migrated_store.session() as session:
        kinds = session.scalars(
            select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.incident_id)
        ).all()
        actions = session.scalars(select(AuditEntry.action)).all()
    assert {"task.created", "task.completed"} <= set(kinds)
    assert {"task.created", "task.completed"} <= set(actions)

    as_viewer = {"Authorization": f"Bearer {viewer}"}
    assert (await client.get(f"{base}/tasks", headers=as_viewer)).status_code == 200
    refused = await client.post(f"{base}/tasks", json={"title": "x"}, headers=as_viewer)
    assert refused.status_code == 403


async def test_bad_task_input_names_the_field(
    api: tuple[httpx.AsyncClient, Settings, str], migrated_store: Store
) -> None:
    client, _, _ = api
    incident = insert_incident(migrated_store, playbook="p", fingerprint=uuid.uuid4().hex)
    base = f"/api/v1/incidents/{incident.ref}"
    for body, field in (
        ({"title": ""}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"title": "t", "due_minutes": 0}, "due_minutes"),
        ({"title": "t", "due_minutes": 10**9}, "due_minutes"),
        ({"title": "t" * 301}, "title"),
    ):
        answer = await client.post(f"{base}/tasks", json=body)
        assert answer.status_code == 422, body
        assert answer.json()["detail"][0]["loc"][-1] == field
    assert (
        await client.post("/api/v1/incidents/INC-2026-9999/tasks", json={"title": "t"})
    ).status_code == 404
    missing = await client.post(f"{base}/tasks/{2**40}/complete", json={})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"][-1] == "task_id"
    absent = await client.post(f"{base}/tasks/777/complete", json={})
    assert absent.status_code == 404 and "no task 777" in absent.json()["detail"]


async def test_acknowledging_an_open_incident_once(
    api: tuple[httpx.AsyncClient, Settings, str], migrated_store: Store
) -> None:
    client, _, viewer = api
    incident = insert_incident(migrated_store, playbook="p", fingerprint=uuid.uuid4().hex)
    url = f"/api/v1/incidents/{incident.ref}/acknowledge"
    assert (
        await client.post(url, headers={"Authorization": f"Bearer {viewer}"})
    ).status_code == 403
    first = await client.post(url)
    assert first.status_code == 200 and first.json()["incident"] == incident.ref
    second = await client.post(url)
    assert second.status_code == 409 and "already acknowledged" in second.json()["detail"]
    detail = (await client.get(f"/api/v1/incidents/{incident.ref}")).json()
    assert detail["status"] == "acknowledged" and detail["acknowledged_at"] is not None
