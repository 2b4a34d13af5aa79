"""JSONL tail poller against the real store, Temporal dev server and worker."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from integrations.pollers.runner import run_poller
from smokejumper.store.cursors import load_cursor
from smokejumper.store.tables import AlertRow
from tests.helpers import eventually
from tests.integrations.pollers.conftest import Harness

GUARD_SOURCE = {"guard": {"format": "generic", "token": "guard-token-0123456789abcdef"}}


def alert_line(harness: Harness, title: str) -> str:
    alert = {
        "source": "whatever-the-line-says",
        "kind": "prompt_injection",
        "severity": "high",
        "title": title,
        "target": {"application": f"app-{harness.tag}"},
    }
    return json.dumps(alert) + "\n"


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def jsonl(path: Path | str, source: str = "generic", name: str = "guard-log") -> dict[str, Any]:
    return {"kind": "jsonl", "name": name, "source": source, "path": str(path)}


async def test_lines_are_read_once_across_runs_and_restarts(harness: Harness) -> None:
    log = harness.tmp_path / "guard.jsonl"
    append(log, alert_line(harness, "a") + alert_line(harness, "b"))
    scheduler = await harness.scheduler([jsonl(log, source="guard")], sources=GUARD_SOURCE)

    first = await scheduler.run_poller("guard-log")
    assert (first.accepted, first.dead_lettered) == (2, 0)
    assert not await scheduler.run_poller("guard-log")

    # A line still being written (no newline yet) waits for the next run.
    append(log, alert_line(harness, "c") + alert_line(harness, "d").rstrip("\n")[:20])
    assert (await scheduler.run_poller("guard-log")).accepted == 1

    restarted = await harness.restart(scheduler)
    assert not await restarted.run_poller("guard-log")
    append(log, alert_line(harness, "d")[20:])
    assert (await restarted.run_poller("guard-log")).accepted == 1

    assert harness.titles() == ["a", "b", "c", "d"]
    alerts = await harness.dispatched()
    # The source is the poller's (configured source "guard", format generic), not the line's.
    assert {alert.source for alert in alerts} == {"guard"}
    assert (
        load_cursor(harness.store, "guard-log")["files"][str(log)]["offset"] == log.stat().st_size
    )

    (incident,) = harness.incidents()
    assert incident.alert_count == 4

    async def started() -> bool:
        return "playbook.started" in harness.timeline_kinds(incident.id)

    await eventually(started, within=30)


async def test_a_bad_line_is_dead_lettered_and_the_rest_proceed(harness: Harness) -> None:
    log = harness.tmp_path / "guard.jsonl"
    too_long = json.dumps({"title": "x" * (1024 * 1024 + 10)}) + "\n"
    append(
        log,
        alert_line(harness, "good-1")
        + "{not json\n"
        + json.dumps({"kind": "nope", "title": "t"})
        + "\n"
        + "\n   \n"
        + too_long
        + alert_line(harness, "good-2"),
    )
    scheduler = await harness.scheduler([jsonl(log)])

    counts = await scheduler.run_poller("guard-log")

    assert (counts.accepted, counts.dead_lettered) == (2, 3)
    assert harness.titles() == ["good-1", "good-2"]
    not_json, invalid, oversized = harness.dead_letters()
    assert {letter.endpoint for letter in (not_json, invalid, oversized)} == {"poller:guard-log"}
    assert not_json.source == "generic"
    assert not_json.reason == "event is not valid JSON"
    assert not_json.raw_body == "{not json"
    assert not_json.headers == {"file": str(log), "offset": str(len(alert_line(harness, "good-1")))}
    assert invalid.reason == "payload failed validation"
    assert {error["field"] for error in invalid.errors} >= {"kind", "source", "severity"}
    assert oversized.reason.startswith("line longer than")
    assert oversized.raw_body.startswith('{"title": "xxx')
    assert not await scheduler.run_poller("guard-log")


async def test_hostile_lines_are_dead_lettered_and_do_not_wedge_the_poller(
    harness: Harness,
) -> None:
    """Lines nested past the stack, holding NaN or a NUL (which PostgreSQL cannot keep):
    each is its own dead letter and the file is read on, instead of a run that fails on the
    same line every interval."""
    log = harness.tmp_path / "guard.jsonl"
    nan = alert_line(harness, "nan").replace(
        '"target"', '"evidence": {"scores": {"s": NaN}}, "target"'
    )
    append(
        log,
        "[" * 5_000
        + "]" * 5_000
        + "\n"
        + nan
        + alert_line(harness, "nul \x00 byte")
        + alert_line(harness, "good"),
    )
    scheduler = await harness.scheduler([jsonl(log)])

    counts = await scheduler.run_poller("guard-log")

    assert (counts.accepted, counts.dead_lettered) == (1, 3)
    assert harness.titles() == ["good"]
    deep, non_finite, nul = harness.dead_letters()
    assert deep.reason == "event is nested too deeply"
    assert non_finite.reason == "event holds values that cannot be stored"
    assert [error["field"] for error in non_finite.errors] == ["evidence.scores.s"]
    assert nul.errors[0]["field"] == "title"
    assert nul.raw_body == alert_line(harness, "nul \x00 byte").rstrip("\n")


async def test_rotation_and_truncation_restart_the_file(harness: Harness) -> None:
    log = harness.tmp_path / "guard.jsonl"
    append(log, alert_line(harness, "a") + alert_line(harness, "b"))
    scheduler = await harness.scheduler([jsonl(log)])
    assert (await scheduler.run_poller("guard-log")).accepted == 2

    # copytruncate: same inode, now smaller than the offset.
    log.write_text(alert_line(harness, "c"), encoding="utf-8")
    assert (await scheduler.run_poller("guard-log")).accepted == 1

    # Rename and re-create: a new inode at the watched path, read from its start.
    inode = log.stat().st_ino
    log.rename(harness.tmp_path / "guard.jsonl.1")
    append(log, alert_line(harness, "d") + alert_line(harness, "e"))
    assert log.stat().st_ino != inode
    assert (await scheduler.run_poller("guard-log")).accepted == 2

    assert harness.titles() == ["a", "b", "c", "d", "e"]


async def test_a_file_renamed_within_a_glob_continues_where_it_was(harness: Harness) -> None:
    logs = harness.tmp_path / "logs"
    logs.mkdir()
    current = logs / "app.jsonl"
    append(current, alert_line(harness, "a"))
    append(logs / "ignored.txt", "not a jsonl file\n")
    scheduler = await harness.scheduler([jsonl(logs / "*.jsonl")])
    assert (await scheduler.run_poller("guard-log")).accepted == 1

    append(current, alert_line(harness, "b"))
    current.rename(logs / "app.1.jsonl")
    append(current, alert_line(harness, "c"))
    counts = await scheduler.run_poller("guard-log")

    assert counts.accepted == 2
    assert sorted(harness.titles()) == ["a", "b", "c"]
    files = load_cursor(harness.store, "guard-log")["files"]
    assert set(files) == {str(logs / "app.1.jsonl"), str(current)}


async def test_a_directory_path_reads_each_of_its_files(harness: Harness) -> None:
    logs = harness.tmp_path / "logs"
    logs.mkdir()
    append(logs / "one.jsonl", alert_line(harness, "one"))
    append(logs / "two.log", alert_line(harness, "two"))
    scheduler = await harness.scheduler([jsonl(logs)])
    assert (await scheduler.run_poller("guard-log")).accepted == 2
    os.remove(logs / "one.jsonl")
    append(logs / "two.log", alert_line(harness, "three"))
    assert (await scheduler.run_poller("guard-log")).accepted == 1
    assert set(load_cursor(harness.store, "guard-log")["files"]) == {str(logs / "two.log")}
    assert sorted(harness.titles()) == ["one", "three", "two"]


async def test_each_line_commits_with_its_cursor(harness: Harness) -> None:
    """A run stopped after any line (crash, lease lost) resumes at the very next line."""
    log = harness.tmp_path / "guard.jsonl"
    append(log, "".join(alert_line(harness, str(n)) for n in range(4)))
    scheduler = await harness.scheduler([jsonl(log)])
    poller = scheduler.pollers["guard-log"]
    budget = iter([True, False])

    stopped = await run_poller(poller, harness.store, scheduler.intake, lambda: next(budget))
    assert stopped.accepted == 1
    assert harness.titles() == ["0"]

    rest = await run_poller(poller, harness.store, scheduler.intake)
    assert rest.accepted == 3
    assert harness.titles() == ["0", "1", "2", "3"]


async def test_two_runs_at_once_store_each_line_once(harness: Harness) -> None:
    """Even if two instances ran one poller together, the cursor check rolls one back."""
    log = harness.tmp_path / "guard.jsonl"
    append(log, "".join(alert_line(harness, str(n)) for n in range(6)))
    one = await harness.scheduler([jsonl(log)])
    two = await harness.scheduler([jsonl(log)])

    results = await asyncio.gather(
        run_poller(one.pollers["guard-log"], harness.store, one.intake),
        run_poller(two.pollers["guard-log"], harness.store, two.intake),
    )
    while (await one.run_poller("guard-log")).accepted:
        pass

    assert sorted(harness.titles(), key=int) == [str(n) for n in range(6)]
    assert sum(result.accepted for result in results) <= 6
    with harness.store.session() as session:
        assert len(session.scalars(select(AlertRow.id)).all()) == 6
