"""garak's report.jsonl and hitlog.jsonl tailed by the JSONL poller, through the real
scheduler, store, Temporal dev server and worker. The files are garak's own output."""

from __future__ import annotations

from pathlib import Path

from smokejumper.store.cursors import load_cursor
from tests.integrations.pollers.conftest import Harness

GARAK = Path(__file__).resolve().parents[1] / "sources" / "fixtures" / "garak"
UNNAMED_RUN = "24bdefc8-8261-4e83-bb3c-ac507308956f"
# A source with no credential: nothing pushes as it, the poller reads it; its defaults
# fill what garak does not say.
LAB = {"garak-lab": {"format": "garak", "context": {"application": "red-team-lab"}}}


def lines(name: str) -> list[bytes]:
    return (GARAK / name).read_bytes().splitlines(keepends=True)


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


async def test_a_run_tailed_in_pieces_across_a_restart_is_one_incident(harness: Harness) -> None:
    runs = harness.tmp_path / "garak_runs"
    runs.mkdir()
    report = runs / "report.jsonl"
    poller = {"kind": "jsonl", "name": "garak", "source": "garak-lab", "path": str(runs)}
    scheduler = await harness.scheduler([poller], sources=LAB)

    # garak has written its setup, init and the first eval; the rest comes later.
    report_lines = lines("report.jsonl")
    append(report, b"".join(report_lines[:10]))
    first = await scheduler.run_poller("garak")
    assert (first.accepted, first.dead_lettered) == (1, 0)
    cursor = load_cursor(harness.store, "garak")["files"][str(report)]
    assert cursor["state"]["run_id"] == UNNAMED_RUN

    # After a restart the run is still known from the cursor: the later eval joins it.
    scheduler = await harness.restart(scheduler)
    append(report, b"".join(report_lines[10:]))
    append(runs / "hitlog.jsonl", b"".join(lines("hitlog.jsonl")))
    second = await scheduler.run_poller("garak")
    assert (second.accepted, second.dead_lettered) == (1 + 10, 0)
    assert not await scheduler.run_poller("garak")

    alerts = await harness.dispatched()
    assert len(alerts) == 12
    assert {alert.normalized["dedup_key"] for alert in alerts} == {f"garak:{UNNAMED_RUN}"}
    assert {alert.source for alert in alerts} == {"garak-lab"}
    assert {alert.normalized["target"]["model"] for alert in alerts} == {None}
    assert {alert.normalized["target"]["application"] for alert in alerts} == {"red-team-lab"}
    (incident,) = harness.incidents()
    assert incident.alert_count == 12
    # Setup, attempts, passing evals, summaries, completion, digest: none dead-lettered.
    assert harness.dead_letters() == []


async def test_garbage_in_a_report_is_dead_lettered_and_the_run_goes_on(harness: Harness) -> None:
    report = harness.tmp_path / "report.jsonl"
    report_lines = lines("named.report.jsonl")
    append(report, b"".join(report_lines[:5]) + b"{not json\n" + b'{"probe": 3}\n')
    append(report, b"".join(report_lines[5:]))
    poller = {"kind": "jsonl", "name": "garak", "source": "garak", "path": str(report)}
    scheduler = await harness.scheduler([poller])
    counts = await scheduler.run_poller("garak")
    assert (counts.accepted, counts.dead_lettered) == (1, 2)
    (alert,) = harness.alerts()
    assert alert.normalized["target"]["model"] == "support-llm"
    letters = harness.dead_letters()
    assert [letter.raw_body for letter in letters] == ["{not json", '{"probe": 3}']
    assert letters[0].errors[0]["type"] == "json_invalid"
    assert letters[1].errors[0]["field"] == "entry_type"
    assert {letter.headers["file"] for letter in letters} == {str(report)}
