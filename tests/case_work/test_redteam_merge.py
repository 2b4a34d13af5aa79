"""A merge meeting the rest of the engine: a task whose reference (a Slack button, a
terminal) still names the merged incident, the re-open window after the target closed,
and viewers on every case-work write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from smokejumper.incidents import legal_holds
from smokejumper.incidents.retention import delete_raw_alerts
from smokejumper.security.users import Role, add_user, issue_token
from smokejumper.store.tables import AlertRow, Incident
from tests.engine import in_process_api
from tests.test_end_to_end import example


async def test_a_moved_task_is_completed_through_the_merged_incidents_reference(
    tmp_path: Path, database_url: str
) -> None:
    async with in_process_api(tmp_path, database_url) as (http, _, _):
        refs = [
            (await http.post("/api/v1/alerts", json=example(kind=kind))).json()["incident_id"]
            for kind in ("data_leakage", "prompt_injection")
        ]
        base = "/api/v1/incidents"
        task = (await http.post(f"{base}/{refs[0]}/tasks", json={"title": "call"})).json()
        merged = await http.post(f"{base}/{refs[0]}/merge", json={"into": refs[1]})
        assert merged.status_code == 200, merged.text

        # The task's message in the merged incident's thread carries refs[0].
        shown = await http.post(f"{base}/{refs[0]}/tasks/{task['id']}/complete", json={})
        assert shown.status_code == 200, shown.text
        assert (shown.json()["incident"], shown.json()["state"]) == (refs[1], "done")
        again = await http.post(f"{base}/{refs[1]}/tasks/{task['id']}/complete", json={})
        assert again.status_code == 409
        # Another incident's task is still not reachable through an unrelated reference.
        third = (await http.post("/api/v1/alerts", json=example(kind="jailbreak"))).json()
        other = await http.post(
            f"{base}/{third['incident_id']}/tasks/{task['id']}/complete", json={}
        )
        assert other.status_code == 404


async def test_the_merged_shell_is_not_reopened_when_its_fingerprint_returns(
    tmp_path: Path, database_url: str
) -> None:
    async with in_process_api(tmp_path, database_url, intake={"reopen_window_seconds": 3600}) as (
        http,
        store,
        _,
    ):
        refs = [
            (await http.post("/api/v1/alerts", json=example(kind=kind))).json()["incident_id"]
            for kind in ("data_leakage", "prompt_injection")
        ]
        merged = await http.post(f"/api/v1/incidents/{refs[0]}/merge", json={"into": refs[1]})
        assert merged.status_code == 200, merged.text
        with store.transaction() as session:
            target = session.scalars(select(Incident).where(Incident.ref == refs[1])).one()
            target.status, target.open_key = "closed", None

        fresh = (await http.post("/api/v1/alerts", json=example(kind="data_leakage"))).json()
        with store.session() as session:
            shell = session.scalars(select(Incident).where(Incident.ref == refs[0])).one()
            assert (shell.status, shell.merged_into_id is not None) == ("closed", True)
        assert fresh["incident_id"] not in refs
        # And the next one joins that new incident.
        joined = (await http.post("/api/v1/alerts", json=example(kind="data_leakage"))).json()
        assert joined["incident_id"] == fresh["incident_id"]


async def test_a_viewer_writes_nothing_through_case_work(tmp_path: Path, database_url: str) -> None:
    async with in_process_api(tmp_path, database_url) as (http, store, _):
        refs = [
            (await http.post("/api/v1/alerts", json=example(kind=kind))).json()["incident_id"]
            for kind in ("data_leakage", "prompt_injection")
        ]
        task = (await http.post(f"/api/v1/incidents/{refs[0]}/tasks", json={"title": "t"})).json()
        await http.post(f"/api/v1/incidents/{refs[0]}/tags", json={"tag": "pii"})
        with store.transaction() as session:
            viewer = add_user(session, "vera", Role.VIEWER, None)
            _, token = issue_token(session, viewer, "test")
        as_viewer = {"authorization": f"Bearer {token}"}
        base = f"/api/v1/incidents/{refs[0]}"
        for method, path, body in (
            ("PUT", "commander", {"user": "vera"}),
            ("POST", "assignees", {"user": "vera"}),
            ("DELETE", "assignees/vera", None),
            ("POST", "notes", {"text": "x"}),
            ("POST", "tags", {"tag": "x"}),
            ("DELETE", "tags/pii", None),
            ("POST", "links", {"incident": refs[1]}),
            ("POST", "merge", {"into": refs[1]}),
            ("POST", "tasks", {"title": "x"}),
            ("POST", f"tasks/{task['id']}/complete", {}),
            ("POST", "acknowledge", None),
        ):
            answer = await http.request(method, f"{base}/{path}", json=body, headers=as_viewer)
            assert answer.status_code == 403, (method, path, answer.status_code)


async def test_a_disabled_user_is_not_assigned_though_slack_still_links_them(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with in_process_api(
        tmp_path,
        sqlite_url,
        slack={"users": {"U0DANA001": "dana"}},
        approvers={"leads": ["dana"]},
    ) as (http, store, _):
        ref = (await http.post("/api/v1/alerts", json=example())).json()["incident_id"]
        with store.transaction() as session:
            add_user(session, "dana", Role.RESPONDER, None).disabled = True
        base = f"/api/v1/incidents/{ref}"
        for method, path in (("PUT", "commander"), ("POST", "assignees")):
            answer = await http.request(method, f"{base}/{path}", json={"user": "dana"})
            assert answer.status_code == 422, (path, answer.text)
            assert answer.json()["detail"][0]["loc"][-1] == "user"


async def test_a_legal_hold_follows_the_alerts_a_merge_moves(
    tmp_path: Path, database_url: str
) -> None:
    async with in_process_api(tmp_path, database_url) as (http, store, _):
        refs = [
            (await http.post("/api/v1/alerts", json=example(kind=kind))).json()["incident_id"]
            for kind in ("data_leakage", "prompt_injection")
        ]
        legal_holds.place(
            store, refs[0], legal_holds.HoldRequest(reason="case 7"), by="lee", via="cli"
        )
        merged = await http.post(f"/api/v1/incidents/{refs[0]}/merge", json={"into": refs[1]})
        assert merged.status_code == 200, merged.text

        swept = delete_raw_alerts(store, datetime.now(UTC) + timedelta(days=1))
        with store.session() as session:
            bodies = session.scalars(select(AlertRow.raw)).all()
        # The held incident's alert now sits on the target; it keeps its body.
        assert len(swept.held) == 2 and swept.deleted == [], swept
        assert all(bodies), "a held alert's body was emptied"
