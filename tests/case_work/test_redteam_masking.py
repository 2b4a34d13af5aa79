"""What a responder writes about a secret is masked the same in notes and in tasks: the
configured redaction patterns (an organisation's own key and id formats) included, on the
API and in the console."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from smokejumper.console import casework
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.store.tables import Incident
from tests.engine import in_process_api
from tests.test_end_to_end import example

EMPLOYEE = "EMP-204817"
SECRET = f"badge {EMPLOYEE} and key AKIAZ7QX3MPLK9WEB2TY"


async def test_tasks_are_masked_with_the_configured_patterns_like_notes(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with in_process_api(
        tmp_path, sqlite_url, evidence={"redaction_patterns": {"employee_id": r"\bEMP-\d{6}\b"}}
    ) as (http, store, settings):
        ref = (await http.post("/api/v1/alerts", json=example())).json()["incident_id"]
        base = f"/api/v1/incidents/{ref}"
        note = await http.post(f"{base}/notes", json={"text": SECRET})
        assert note.status_code == 201 and EMPLOYEE not in note.text, note.text
        made = await http.post(f"{base}/tasks", json={"title": SECRET})
        assert made.status_code == 201, made.text
        done = await http.post(f"{base}/tasks/{made.json()['id']}/complete", json={"note": SECRET})
        assert done.status_code == 200, done.text
        listed = await http.get(f"{base}/tasks")
        for answer in (made, done, listed):
            assert EMPLOYEE not in answer.text, answer.request.url
            assert "AKIAZ7QX3MPLK9WEB2TY" not in answer.text, answer.request.url
        # The console's incident page reads the case (notes and tasks) here.
        with store.session() as session:
            incident = session.scalars(select(Incident).where(Incident.ref == ref)).one()
            case = casework.case_of(session, store, incident, redactor_for(store, settings))
        shown = " ".join([*(t.title for t in case.tasks), *(t.note or "" for t in case.tasks)])
        assert "badge" in shown and EMPLOYEE not in shown, shown
