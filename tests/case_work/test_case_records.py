"""Case records over the API and its service, on SQLite and PostgreSQL: commander and
assignees (known responders only), notes (kept as written, shown masked everywhere),
tags, links and merges (what moves, what is refused, where later alerts go)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import select

from smokejumper.incidents import case_work
from smokejumper.security.users import Role, add_user, issue_token
from smokejumper.store.db import Store
from smokejumper.store.tables import AlertRow, AuditEntry, Incident, IncidentNote, TimelineEvent
from tests.engine import in_process_api
from tests.test_end_to_end import example

SECRET_NOTE = "rotated AKIAZ7QX3MPLK9WEB2TY; customer jane.doe@example.com called"


@dataclass
class Api:
    http: httpx.AsyncClient
    store: Store
    first: str
    second: str
    viewer: dict[str, str]

    async def call(self, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return await self.http.request(method, f"/api/v1/incidents/{path}", json=body, **kw)


@pytest_asyncio.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    """The API over a migrated store with two open incidents, a responder `bob` and a
    viewer's token."""
    async with in_process_api(tmp_path, database_url) as (http, store, _):
        refs = []
        for kind in ("data_leakage", "prompt_injection"):
            accepted = await http.post("/api/v1/alerts", json=example(kind=kind))
            assert accepted.status_code == 202, accepted.text
            refs.append(accepted.json()["incident_id"])
        with store.transaction() as session:
            add_user(session, "bob", Role.RESPONDER, None)
            viewer = add_user(session, "vera", Role.VIEWER, None)
            _, token = issue_token(session, viewer, "test")
        yield Api(http, store, refs[0], refs[1], {"authorization": f"Bearer {token}"})


def timeline(store: Store, ref: str) -> list[TimelineEvent]:
    with store.session() as session:
        incident = session.scalars(select(Incident).where(Incident.ref == ref)).one()
        return list(
            session.scalars(
                select(TimelineEvent)
                .where(TimelineEvent.incident_id == incident.id)
                .order_by(TimelineEvent.id)
            )
        )


async def test_commander_and_assignees_are_known_responders_on_the_timeline_and_audited(
    api: Api,
) -> None:
    done = await api.call("PUT", f"{api.first}/commander", {"user": "bob"})
    assert done.status_code == 200, done.text
    assert done.json()["commander"] == "bob"
    unknown = await api.call("POST", f"{api.first}/assignees", {"user": "mallory"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "user"]
    assert "mallory" in unknown.json()["detail"][0]["msg"]
    added = await api.call(
        "POST", f"{api.first}/assignees", {"user": "operator"}, headers={"X-Smokejumper-Via": "cli"}
    )
    again = await api.call("POST", f"{api.first}/assignees", {"user": "operator"})
    assert added.json()["assignees"] == again.json()["assignees"] == ["operator"]
    gone = await api.call("DELETE", f"{api.first}/assignees/operator")
    assert gone.json()["assignees"] == []
    assert (await api.call("DELETE", f"{api.first}/assignees/operator")).status_code == 404
    cleared = await api.call("PUT", f"{api.first}/commander", {"user": None})
    assert cleared.json()["commander"] is None

    kinds = [(e.kind, e.data.get("via")) for e in timeline(api.store, api.first)]
    assert ("commander.changed", "api") in kinds
    assert ("assignee.added", "cli") in kinds  # one event: the repeat changed nothing
    assert kinds.count(("assignee.added", "cli")) + kinds.count(("assignee.added", "api")) == 1
    assert ("assignee.removed", "api") in kinds
    with api.store.session() as session:
        actions = set(session.scalars(select(AuditEntry.action)))
    assert {"incident.commander_changed", "incident.assignee_added"} <= actions
    # A client cannot claim to be the console or Slack.
    await api.call(
        "POST", f"{api.first}/tags", {"tag": "x"}, headers={"X-Smokejumper-Via": "slack"}
    )
    assert timeline(api.store, api.first)[-1].data["via"] == "api"


async def test_notes_are_kept_as_written_and_shown_masked_everywhere(api: Api) -> None:
    posted = await api.call("POST", f"{api.first}/notes", {"text": SECRET_NOTE})
    assert posted.status_code == 201, posted.text
    note = posted.json()
    assert set(note) == {"id", "author", "text", "via", "created_at"}
    assert note["author"] == "operator" and note["via"] == "api"
    assert "AKIAZ7QX3MPLK9WEB2TY" not in note["text"] and "AKIA…B2TY" in note["text"]
    assert "jane.doe@example.com" not in note["text"]
    with api.store.session() as session:
        assert session.scalars(select(IncidentNote.text)).one() == SECRET_NOTE

    listed = await api.call("GET", f"{api.first}/notes", headers=api.viewer)
    assert listed.status_code == 200 and listed.json() == [note]
    detail = (await api.http.get(f"/api/v1/incidents/{api.first}", headers=api.viewer)).text
    report = (await api.http.get(f"/api/v1/incidents/{api.first}/report?format=md")).text
    for shown in (detail, report):
        assert "AKIA…B2TY" in shown
        assert "AKIAZ7QX3MPLK9WEB2TY" not in shown and "jane.doe@example.com" not in shown
    assert "## Notes" in report and "operator (api)" in report

    for bad, why in (("", "text"), (" \n ", "text"), ("x" * 10_001, "text")):
        refused = await api.call("POST", f"{api.first}/notes", {"text": bad})
        assert refused.status_code == 422, bad[:10]
        assert refused.json()["detail"][0]["loc"] == ["body", why]
    assert (await api.call("POST", "INC-2026-9999/notes", {"text": "x"})).status_code == 404
    viewer_write = await api.call("POST", f"{api.first}/notes", {"text": "x"}, headers=api.viewer)
    assert viewer_write.status_code == 403


async def test_tags_and_links(api: Api) -> None:
    tagged = await api.call("POST", f"{api.first}/tags", {"tag": "Customer-Impact"})
    assert tagged.json()["tags"] == ["customer-impact"]
    for bad in ("two words", "-lead", "ü", "x" * 65):
        refused = await api.call("POST", f"{api.first}/tags", {"tag": bad})
        assert refused.status_code == 422, bad
        assert refused.json()["detail"][0]["loc"] == ["body", "tag"]
    assert (await api.call("DELETE", f"{api.first}/tags/nope")).status_code == 404
    untagged = await api.call("DELETE", f"{api.first}/tags/customer-impact")
    assert untagged.json()["tags"] == []

    self_link = await api.call("POST", f"{api.first}/links", {"incident": api.first})
    assert self_link.status_code == 422
    assert self_link.json()["detail"][0]["loc"] == ["body", "incident"]
    missing = await api.call("POST", f"{api.first}/links", {"incident": "INC-2026-9999"})
    assert missing.status_code == 404
    bad_kind = await api.call("POST", f"{api.first}/links", {"incident": api.second, "kind": "x"})
    assert bad_kind.status_code == 422
    linked = await api.call("POST", f"{api.first}/links", {"incident": api.second})
    assert linked.json()["links"] == [
        {"incident": api.second, "kind": "related", "direction": "out"}
    ]
    # Seen from the other side, and not linked twice from there.
    back = await api.call("POST", f"{api.second}/links", {"incident": api.first})
    assert back.json()["links"] == [{"incident": api.first, "kind": "related", "direction": "in"}]
    assert "incident.linked" in [e.kind for e in timeline(api.store, api.second)]


async def test_merge_moves_alerts_notes_and_tasks_and_later_alerts_reach_the_target(
    api: Api,
) -> None:
    await api.call("POST", f"{api.first}/notes", {"text": "seen first here"})
    task = await api.call("POST", f"{api.first}/tasks", {"title": "call the vendor"})
    assert task.status_code == 201, task.text
    into_self = await api.call("POST", f"{api.first}/merge", {"into": api.first})
    assert into_self.status_code == 422
    assert into_self.json()["detail"][0]["loc"] == ["body", "into"]
    assert (
        await api.call("POST", f"{api.first}/merge", {"into": "INC-2026-9999"})
    ).status_code == 404

    merged = await api.call("POST", f"{api.first}/merge", {"into": api.second})
    assert merged.status_code == 200, merged.text
    receipt = merged.json()
    assert (receipt["alerts_moved"], receipt["notes_moved"], receipt["tasks_moved"]) == (1, 1, 1)
    assert receipt["playbook_ended"] is False  # Temporal is not reachable in this test
    case = (await api.call("GET", f"{api.first}/case")).json()
    assert case["status"] == "closed" and case["merged_into"] == api.second
    notes = (await api.call("GET", f"{api.second}/notes")).json()
    assert [n["text"] for n in notes] == ["seen first here"]
    assert (await api.call("GET", f"{api.first}/notes")).json() == []
    tasks = (await api.call("GET", f"{api.second}/tasks")).json()
    assert [t["title"] for t in tasks] == ["call the vendor"]
    with api.store.session() as session:
        target = session.scalars(select(Incident).where(Incident.ref == api.second)).one()
        assert target.alert_count == 2
        assert session.scalar(select(AlertRow.id).where(AlertRow.incident_id != target.id)) is None
    assert "incident.merged" in [e.kind for e in timeline(api.store, api.second)]

    # Refused: merging again, into the merged one, or chaining onto the target.
    again = await api.call("POST", f"{api.first}/merge", {"into": api.second})
    assert again.status_code == 409
    into_closed = await api.call("POST", f"{api.second}/merge", {"into": api.first})
    assert into_closed.status_code == 409 and "closed" in into_closed.json()["detail"]

    # The merged incident's fingerprint now reaches the target, not a new incident.
    later = await api.http.post("/api/v1/alerts", json=example(kind="data_leakage"))
    assert later.json()["incident_id"] == api.second

    # Once the target is over, that fingerprint opens a new incident again.
    with api.store.transaction() as session:
        target = session.scalars(select(Incident).where(Incident.ref == api.second)).one()
        target.status, target.open_key = "closed", None
    fresh = await api.http.post("/api/v1/alerts", json=example(kind="data_leakage"))
    assert fresh.json()["incident_id"] not in (api.first, api.second)


async def test_a_third_incident_cannot_chain_onto_a_merge_target(api: Api) -> None:
    third = await api.http.post("/api/v1/alerts", json=example(kind="jailbreak"))
    third_ref = third.json()["incident_id"]
    assert (await api.call("POST", f"{api.first}/merge", {"into": api.second})).status_code == 200
    chained = await api.call("POST", f"{api.second}/merge", {"into": third_ref})
    assert chained.status_code == 409 and "chain" in chained.json()["detail"]
    # Merging another incident into the same target is fine.
    ok = await api.call("POST", f"{third_ref}/merge", {"into": api.second})
    assert ok.status_code == 200, ok.text


async def test_a_captured_note_is_kept_once(api: Api) -> None:
    for _ in range(2):
        case_work.add_note(
            api.store, api.first, "from the thread", author="bob", via="slack", source_key="s:1"
        )
    notes = (await api.call("GET", f"{api.first}/notes")).json()
    assert [(n["author"], n["via"]) for n in notes] == [("bob", "slack")]
