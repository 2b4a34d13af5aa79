"""Whole garak files pushed to `POST /api/v1/alerts/garak`, against the real API.

The files are garak's own output (see tests/integrations/sources/test_garak.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from smokejumper.store.tables import AlertRow, DeadLetter, Incident
from tests.engine import Engine, engine_on

GARAK = Path(__file__).resolve().parents[1] / "integrations" / "sources" / "fixtures" / "garak"
UNNAMED_RUN = "24bdefc8-8261-4e83-bb3c-ac507308956f"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest_asyncio.fixture
async def engine(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Engine]:
    async with engine_on(tmp_path, database_url, temporal_env) as running:
        yield running


def garak(name: str) -> bytes:
    return (GARAK / name).read_bytes()


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.store.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Incident)) or 0,
            session.scalar(select(func.count()).select_from(AlertRow)) or 0,
            session.scalar(select(func.count()).select_from(DeadLetter)) or 0,
        )


def incidents(engine: Engine) -> list[Incident]:
    with engine.store.session() as session:
        return list(session.scalars(select(Incident)))


async def test_a_whole_report_and_hitlog_are_one_incident_of_the_run(engine: Engine) -> None:
    report = await engine.http.post("/api/v1/alerts/garak", content=garak("report.jsonl"))
    assert report.status_code == 202, report.text
    answer = report.json()
    assert answer["lines"] == 34
    assert [alert["line"] for alert in answer["alerts"]] == [6, 31]  # the two failing evals
    assert answer["acknowledged"] == {
        "start_run setup": 1,
        "init": 1,
        "plugin_cache": 3,
        "payload_init": 1,
        "attempt": 18,
        "eval": 3,
        "probe_summary": 3,
        "completion": 1,
        "digest": 1,
    }
    assert answer["refused"] == []

    hitlog = await engine.http.post(
        "/api/v1/alerts/garak",
        content=garak("hitlog.jsonl"),
        params={"application": "support-bot"},
    )
    assert hitlog.status_code == 202, hitlog.text
    hits = hitlog.json()["alerts"]
    assert len(hits) == 10
    assert all(hit["deduplicated"] for hit in hits)
    assert {hit["incident_id"] for hit in hits} == {answer["alerts"][0]["incident_id"]}

    assert counts(engine) == (1, 12, 0)
    (incident,) = incidents(engine)
    assert incident.kind == "redteam_finding"
    assert incident.alert_count == 12
    # The generator "test.Repeat None" names no model.
    assert incident.target.get("model") is None
    with engine.store.session() as session:
        rows = list(session.scalars(select(AlertRow)))
        assert {row.normalized["dedup_key"] for row in rows} == {f"garak:{UNNAMED_RUN}"}
        assert all(row.normalized["target"]["model"] is None for row in rows)
        # Each alert keeps its own line as it came, not the whole file.
        assert all(json.loads(row.raw) for row in rows)
        hit_rows = [row for row in rows if row.normalized["evidence"]["prompt"]]
        assert {row.normalized["target"]["application"] for row in hit_rows} == {"support-bot"}


async def test_a_named_target_is_the_model_and_another_run_another_incident(
    engine: Engine,
) -> None:
    for name in ("named.report.jsonl", "named.hitlog.jsonl", "hitlog.jsonl"):
        response = await engine.http.post("/api/v1/alerts/garak", content=garak(name))
        assert response.status_code == 202, response.text
    assert counts(engine) == (2, 1 + 4 + 10, 0)
    models = sorted(str(incident.target.get("model")) for incident in incidents(engine))
    assert models == ["None", "support-llm"]


async def test_one_line_and_a_report_that_found_nothing(engine: Engine) -> None:
    hit = garak("named.hitlog.jsonl").splitlines()[0]
    response = await engine.http.post("/api/v1/alerts/garak", content=hit)
    assert response.status_code == 202, response.text
    assert len(response.json()["alerts"]) == 1
    # Only the setup, the passing evals and the digest: acknowledged, nothing stored.
    clean = b"\n".join(
        line
        for line in garak("named.report.jsonl").splitlines()
        if json.loads(line).get("passed") != 0
    )
    response = await engine.http.post("/api/v1/alerts/garak", content=clean)
    assert response.status_code == 202, response.text
    assert response.json()["alerts"] == []
    assert response.json()["acknowledged"]["eval"] == 2
    assert counts(engine) == (1, 1, 0)


async def test_garbage_lines_and_a_truncated_last_line_are_kept_and_named(
    engine: Engine,
) -> None:
    lines = garak("hitlog.jsonl").splitlines()
    body = b"\n".join(
        [lines[0], b"not json at all", lines[1], b'{"probe": "dan.Dan_11_0"}', lines[2][:300]]
    )
    response = await engine.http.post(
        "/api/v1/alerts/garak", content=body, params={"label.run": "nightly"}
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert [alert["line"] for alert in answer["alerts"]] == [1, 3]
    refused = {line["line"]: line for line in answer["refused"]}
    assert sorted(refused) == [2, 4, 5]
    assert refused[2]["error"] == "body is not valid JSON"
    assert refused[4]["fields"][0]["field"] == "line 4: entry_type"
    assert refused[5]["fields"][0]["field"] == "line 5"  # cut off mid-object
    assert counts(engine) == (1, 2, 3)
    with engine.store.session() as session:
        for number, line in ((2, b"not json at all"), (5, lines[2][:300])):
            letter = session.get(DeadLetter, refused[number]["dead_letter_id"])
            assert letter is not None
            # Each refused line is kept alone, with where it was and the query it came with.
            assert letter.raw_body.encode() == line
            assert letter.headers[":line"] == str(number)
            assert letter.headers[":query"] == "label.run=nightly"
            assert letter.source == "garak"

    # The truncated line, completed, is replayed alone into the same run's incident.
    replay = await engine.http.post(
        f"/api/v1/dead-letters/{refused[5]['dead_letter_id']}/replay",
        json={"body": lines[2].decode()},
    )
    assert replay.status_code == 202, replay.text
    assert replay.json()["incident_id"] == answer["alerts"][0]["incident_id"]
    assert counts(engine) == (1, 3, 3)


@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [
        (b"", 400, ["(body)"]),
        (b"\n\n", 400, ["(body)"]),
        (b"garbage\nmore garbage", 400, ["line 1", "line 2"]),
        (b'{"probe": 1}\n[]', 422, ["line 1: entry_type", "line 2"]),
    ],
)
async def test_a_body_with_nothing_usable_is_refused_whole(
    engine: Engine, body: bytes, status: int, fields: list[str]
) -> None:
    response = await engine.http.post("/api/v1/alerts/garak", content=body)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    assert [field["field"] for field in answer["fields"]] == fields
    with engine.store.session() as session:
        letter = session.get(DeadLetter, answer["dead_letter_id"])
        assert letter is not None
        assert letter.raw_body.encode() == body
    assert counts(engine) == (0, 0, 1)


async def test_too_many_bad_lines_refuse_the_body_whole(engine: Engine) -> None:
    good = garak("named.hitlog.jsonl").splitlines()[0]
    body = b"\n".join([good, *[b"x"] * 101])
    response = await engine.http.post("/api/v1/alerts/garak", content=body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert "101 of 102 lines are unusable" in answer["error"]
    assert len(answer["fields"]) == 51  # 50 named, then how many more
    assert counts(engine) == (0, 0, 1)


async def test_a_file_over_the_body_limit_is_refused_before_anything(engine: Engine) -> None:
    lines = garak("report.jsonl")
    huge = lines * (50 * 1024 * 1024 // len(lines) + 1)  # a 50 MB report
    response = await engine.http.post("/api/v1/alerts/garak", content=huge)
    assert response.status_code == 413
    assert "1048576 bytes" in response.json()["error"]
    assert counts(engine) == (0, 0, 0)


async def test_the_cli_sends_a_whole_file_and_says_what_became_of_it(
    engine: Engine, tmp_path: Path
) -> None:
    result = await engine.cli("alert", "send", "--source", "garak", str(GARAK / "hitlog.jsonl"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("10 lines: 10 alerts accepted (INC-")
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(garak("named.hitlog.jsonl")[:-200])
    result = await engine.cli("alert", "send", "--source", "garak", str(cut))
    assert result.exit_code == 1  # a line was refused: kept, but the sender must know
    assert "4 lines: 3 alerts accepted" in result.output
    assert "line 4: body is not valid JSON (dead letter " in result.output


async def test_a_pretty_printed_entry_and_a_deeply_nested_line(engine: Engine) -> None:
    hit = json.loads(garak("named.hitlog.jsonl").splitlines()[0])
    pretty = json.dumps(hit, indent=2).encode()
    deep = b"[" * 100_000 + b"]" * 100_000
    response = await engine.http.post("/api/v1/alerts/garak", content=pretty + b"\n" + deep)
    # A pretty-printed entry is one event only when it is the whole body; line by line,
    # its pieces are not entries, and the nesting is refused, not a 500.
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "none of the 40 lines is usable"
    response = await engine.http.post("/api/v1/alerts/garak", content=pretty)
    assert response.status_code == 202, response.text
    assert [alert["line"] for alert in response.json()["alerts"]] == [1]
    body = garak("named.hitlog.jsonl") + deep
    response = await engine.http.post("/api/v1/alerts/garak", content=body)
    assert response.status_code == 202, response.text
    (refused,) = response.json()["refused"]
    assert refused["error"] == "body is nested too deeply"
    assert refused["fields"][0]["message"] == "JSON nested deeper than 64 levels"
    assert counts(engine) == (1, 5, 2)
