"""Processes of one engine start at once and each reads or makes the audit key, the
operator token and the payload key. Exactly one value wins, and no process ever reads a
file that another is still writing (seen: the demo's scheduler read an empty audit key
while the API was writing it, and exited)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from smokejumper.config import load_settings
from smokejumper.private_files import create_once
from smokejumper.security.operator import operator_token
from smokejumper.store.audit_key import audit_key

PROCESSES = 8
ROUNDS = 15


def _read_all(data_dir: str, start: object, out: object) -> None:
    settings = load_settings(None, data_dir=Path(data_dir))
    start.wait()  # type: ignore[attr-defined]
    try:
        result = f"{audit_key(settings).hex()} {operator_token(settings, create=True)}"
    except Exception as exc:  # every failure is the finding
        result = f"error: {type(exc).__name__}: {exc}"
    out.put(result)  # type: ignore[attr-defined]


def test_processes_starting_together_agree_and_never_read_half_a_file(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        data_dir = tmp_path / f"round-{round_}"
        start = context.Barrier(PROCESSES)
        out = context.Queue()
        workers = [
            context.Process(target=_read_all, args=(str(data_dir), start, out))
            for _ in range(PROCESSES)
        ]
        for worker in workers:
            worker.start()
        results = [out.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        assert not [r for r in results if r.startswith("error")], results
        assert len(set(results)) == 1, results


def test_create_once_keeps_the_first_value_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "token"
    assert create_once(path, "first") == "first"
    assert create_once(path, "second") == "first"
    assert path.read_text() == "first\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["token"]  # nothing staged is left
