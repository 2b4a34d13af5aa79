"""A pytest-xdist worker that dies mid-test (a fatal signal in native code, or a kill from
outside) says why, and its test runs once more on a fresh worker.

xdist alone reports only "worker crashed while running <test>": whatever the dying
process printed is lost among the other workers' output. Each worker here dumps its
Python stacks into a file of its own on a fatal signal or a SIGTERM/SIGHUP, and the
controller prints that file in a "worker crashes" section. A test that crashes its worker
twice fails; one that passes on a fresh worker is reported as rerun, never as passed
silently.
"""

from __future__ import annotations

import faulthandler
import signal
import tempfile
from pathlib import Path
from typing import IO, Any

import pytest

_CRASH_DIR = "smokejumper_crash_dir"
# (test, what happened, the worker's dump)
_crashes: list[tuple[str, str, str]] = []
_rerun: set[str] = set()
_dump: IO[str] | None = None


def _crash_dir(config: pytest.Config) -> Path:
    directory: Path | None = getattr(config, "_smokejumper_crash_dir", None)
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="smokejumper-worker-crashes-"))
        config._smokejumper_crash_dir = directory  # type: ignore[attr-defined]
    return directory


@pytest.hookimpl(trylast=True)  # after pytest's own faulthandler set its stderr
def pytest_configure(config: pytest.Config) -> None:
    global _dump
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is None or _CRASH_DIR not in workerinput:
        return
    path = Path(workerinput[_CRASH_DIR]) / f"{workerinput['workerid']}.log"
    # Kept open for the worker's life: faulthandler writes to its descriptor when it dies.
    _dump = path.open("a", encoding="utf-8")
    faulthandler.enable(_dump, all_threads=True)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        faulthandler.register(signum, _dump, all_threads=True, chain=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput[_CRASH_DIR] = str(_crash_dir(node.config))


@pytest.hookimpl(optionalhook=True)
def pytest_handlecrashitem(crashitem: str, report: pytest.TestReport, sched: Any) -> None:
    worker = report.node.gateway.id  # type: ignore[attr-defined]
    log = _crash_dir(sched.config) / f"{worker}.log"
    dumped = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    log.unlink(missing_ok=True)
    again = crashitem not in _rerun
    if again:
        _rerun.add(crashitem)
        sched.mark_test_pending(crashitem)
        report.outcome = "rerun"  # type: ignore[assignment]
    _crashes.append(
        (
            crashitem,
            f"{worker} died running {crashitem} "
            f"({'run again on a fresh worker' if again else 'failed: it crashed twice'}):",
            dumped.strip()
            or "no fatal-signal dump: the process was killed outright (SIGKILL, OOM killer) "
            "or exited without a signal",
        )
    )


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    if report.outcome == "rerun":  # type: ignore[comparison-overlap]
        return "rerun", "R", "RERUN (worker crashed)"
    return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _crashes:
        return
    terminalreporter.section("worker crashes", sep="=", red=True, bold=True)
    for _test, happened, dumped in _crashes:
        terminalreporter.line(happened)
        # The dying thread's frames come last, after every other thread's.
        lines = dumped.splitlines()
        if len(lines) > 400:
            lines = [*lines[:100], f"... {len(lines) - 400} lines left out ...", *lines[-300:]]
        for line in lines:
            terminalreporter.line(f"    {line}")
