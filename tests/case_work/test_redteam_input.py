"""Hostile text on every case-work write is a 422 naming the field, on PostgreSQL (which
refuses NUL even as a query parameter) too: never a 500."""

from __future__ import annotations

from pathlib import Path

from tests.engine import in_process_api
from tests.test_end_to_end import example

NUL, SURROGATE = '"x\\u0000"', '"a\\ud800b"'


async def test_nul_and_unpaired_surrogates_are_refused_by_field(
    tmp_path: Path, postgres_url: str
) -> None:
    async with in_process_api(tmp_path, postgres_url) as (http, _, _):
        ref = (await http.post("/api/v1/alerts", json=example())).json()["incident_id"]
        base = f"/api/v1/incidents/{ref}"
        task = (await http.post(f"{base}/tasks", json={"title": "t"})).json()
        for method, path, field in (
            ("POST", "links", "incident"),
            ("POST", "merge", "into"),
            ("PUT", "commander", "user"),
            ("POST", "assignees", "user"),
            ("POST", "notes", "text"),
            ("POST", "tags", "tag"),
            ("POST", "tasks", "title"),
            ("POST", f"tasks/{task['id']}/complete", "note"),
        ):
            for bad in (NUL, SURROGATE):
                answer = await http.request(
                    method,
                    f"{base}/{path}",
                    content=f'{{"{field}": {bad}}}',
                    headers={"content-type": "application/json"},
                )
                assert answer.status_code == 422, (path, bad, answer.status_code)
                assert answer.json()["detail"][0]["loc"][-1] == field, answer.text
