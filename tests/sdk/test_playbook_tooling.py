"""`smokejumper playbooks list|validate|dry-run`, as a playbook author runs them."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import Engine, event
from typer.testing import CliRunner

from cli.main import app as cli_app
from playbooks import BUILTIN_PLAYBOOKS
from playbooks.triage import Triage
from smokejumper.sdk.lint import display
from smokejumper.sdk.registry import source_of
from tests.sdk.test_registry import CONTAIN_LEAK, WORDING, write

SAMPLES = Path(__file__).resolve().parent / "sample_playbooks.py"
EXAMPLE_ALERT = Path(__file__).resolve().parents[2] / "examples" / "alerts" / "generic.json"


def cli(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli_app, list(args), input=stdin)


# -- list ---------------------------------------------------------------------------------


def test_list_shows_every_discovered_playbook(tmp_path: Path) -> None:
    write(tmp_path / "pb", "contain_leak.py", CONTAIN_LEAK)
    write(tmp_path / "pb", "_wording.py", WORDING)
    (tmp_path / "smokejumper.toml").write_text('playbook_dirs = ["pb"]\n')
    class_line = CONTAIN_LEAK.splitlines().index("class ContainLeak(Playbook):") + 1

    result = cli("playbooks", "list")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()[1:-1]}
    assert set(rows) == {*BUILTIN_PLAYBOOKS, "contain-leak"}
    leak = re.split(r"\s{2,}", rows["contain-leak"])
    assert leak == [
        "contain-leak",
        "3",
        "data_leakage >=high env=production; model_extraction >=info",
        "high",
        "LLM02, AML.T0057",
        f"pb/contain_leak.py:{class_line}",
    ]
    triage_file, triage_line = source_of(Triage)
    assert re.split(r"\s{2,}", rows["triage"])[-1] == f"{display(triage_file)}:{triage_line}"
    assert result.output.splitlines()[-1] == f"{len(BUILTIN_PLAYBOOKS) + 1} playbooks"

    listed = json.loads(cli("playbooks", "list", "--json").stdout)
    leak_json = next(item for item in listed if item["name"] == "contain-leak")
    assert leak_json["triggers"][0] == {
        "kinds": ["data_leakage"],
        "min_severity": "high",
        "labels": {"env": "production"},
    }
    assert (leak_json["severity"], leak_json["owasp"], leak_json["atlas"]) == (
        "high",
        ["LLM02"],
        ["AML.T0057"],
    )
    assert (leak_json["source"], leak_json["line"]) == ("pb/contain_leak.py", class_line)


def test_list_refuses_a_folder_with_two_playbooks_of_one_name(tmp_path: Path) -> None:
    write(tmp_path / "pb", "a.py", CONTAIN_LEAK.replace("from ._wording import CONTAINED", ""))
    write(tmp_path / "pb", "b.py", CONTAIN_LEAK.replace("from ._wording import CONTAINED", ""))
    (tmp_path / "smokejumper.toml").write_text('playbook_dirs = ["pb"]\n')
    result = cli("playbooks", "list")
    assert result.exit_code == 2
    assert "playbook name 'contain-leak' is used twice" in result.output
    assert "pb/a.py" in result.output and "pb/b.py" in result.output


# -- validate -----------------------------------------------------------------------------

# Each line that `validate` must report carries `# expect:` and what it must say; more
# than one problem on a line are separated by ` | `. Any other reported line fails.
CARELESS = """\
\"\"\"Deliberately wrong: the problems `playbooks validate` knows about.\"\"\"

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import time
import uuid
from datetime import date, datetime, timedelta

from temporalio import workflow

from smokejumper.sdk import AlertKind, Contract, Escalation, IncidentStart, Playbook, Route
from smokejumper.sdk import playbook

STARTED_AT = datetime.now()  # outside a class: the sandbox refuses it at import
CHECK_ROTATED = Contract("check_rotated", str, bool)  # nobody implements it
ROTATED = "check rotated"


@playbook
class Careless(Playbook):  # expect: fails in the Temporal workflow sandbox | 'check_rotated'
    name = "careless"  # expect: playbook name 'careless' is also used by Twin (bad/twin.py:7)
    severity = "urgent"  # expect: severity 'urgent' is not one of info, low, medium, high
    owasp = ["LLM99"]  # expect: owasp: 'LLM99' is not an OWASP LLM Top 10 2025 id
    triggers = [
        Route(  # expect: triggers[0] names playbook 'carless', which does not exist
            playbook="carless", kinds=(AlertKind.JAILBREAK,)
        ),
        {"kinds": ["jailbreak"]},  # expect: triggers[1] is a dict, not a Route
    ]

    async def respond(self, incident: IncidentStart) -> None:
        started = time.time()  # expect: time.time() reads the wall clock
        today = date.today()  # expect: date.today() reads the wall clock
        token = uuid.uuid4()  # expect: uuid.uuid4() is random
        if random.random() > 0.5:  # expect: random.random() is random
            await asyncio.sleep(1)  # expect: asyncio.sleep() is not how a playbook waits
        region = os.environ.get("REGION")  # expect: os.environ.get() reads the worker's environment
        with open("/etc/hostname") as handle:  # expect: open() does I/O in workflow code
            handle.read()
        subprocess.run(["true"], check=True)  # expect: subprocess.run() runs a process
        print("print is allowed", started, today, token, region)
        await self.wait(timedelta(minutes=5))
        await self.step(  # expect: step 'revoke': 'rotate_key' is an activity name | undo of
            "revoke", "rotate_key", "k", undo="unrotate_key"
        )
        await self.step(ROTATED, CHECK_ROTATED, "k")
        await self.approve(
            "isolate",
            question="Isolate?",
            approvers=[
                "group:nobody",  # expect: approvers: approver group 'nobody' is not configured
                "alice",
            ],
            escalation=[
                Escalation(after=timedelta(minutes=5), approvers=["group:oncall"]),
                Escalation(
                    after=timedelta(minutes=9),
                    approvers=["group:leads"],  # expect: approver group 'leads' is not configured
                ),
            ],
        )


class Forgotten(Playbook):  # expect: Forgotten subclasses Playbook but is not decorated
    name = "forgotten"

    async def respond(self, incident: IncidentStart) -> None:
        await self.record("forgotten", "never registered")
"""

TWIN = """\
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from smokejumper.sdk.playbook import Playbook, playbook

@playbook
class Twin(Playbook):
    name = "careless"  # expect: 'careless' is also used by Careless (bad/careless.py:24)

    async def respond(self, incident) -> None:
        await self.record("twin", "the same name as another playbook")
"""

BROKEN = """\
import os

raise RuntimeError("broken on purpose")  # expect: cannot import: RuntimeError: broken on purpose
"""

NOT_PYTHON = """\
def respond(self):
    return 1 +  # expect: syntax error: invalid syntax
"""


def expectations(folder: Path, files: dict[str, str]) -> list[tuple[str, str]]:
    """(`file:line`, what it must say) for every `# expect:` in the files written."""
    found = []
    for name, text in files.items():
        write(folder, name, text)
        for number, line in enumerate(text.splitlines(), start=1):
            if "# expect: " in line:
                for fragment in line.split("# expect: ", 1)[1].split(" | "):
                    found.append((f"{folder.name}/{name}:{number}", fragment))
    return found


@pytest.fixture
def no_database_connections() -> Iterator[list[Any]]:
    """Every database connection any engine in this process opens while the test runs."""
    opened: list[Any] = []

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        opened.append(dbapi_connection)

    event.listen(Engine, "connect", on_connect)
    try:
        yield opened
    finally:
        event.remove(Engine, "connect", on_connect)
    assert opened == [], "a playbook tool opened a database connection"


def test_validate_reports_every_problem_at_its_line(
    tmp_path: Path, no_database_connections: list[Any]
) -> None:
    (tmp_path / "smokejumper.toml").write_text('[approvers]\noncall = ["alice", "bob"]\n')
    files = {"careless.py": CARELESS, "twin.py": TWIN, "broken.py": BROKEN, "oops.py": NOT_PYTHON}
    expected = expectations(tmp_path / "bad", files)

    result = cli("playbooks", "validate", "bad")
    assert result.exit_code == 1, result.output
    reported = [line for line in result.output.splitlines() if line.startswith("bad/")]
    for location, fragment in expected:
        assert any(line.startswith(f"{location}: ") and fragment in line for line in reported), (
            f"missing {location}: {fragment}\n{result.output}"
        )
    assert len(reported) == len(expected), result.output
    assert result.output.splitlines()[-1] == (
        f"{len(expected)} problem(s) in 2 playbook(s), 4 file(s)"
    )


def test_validate_passes_the_built_in_playbooks(
    tmp_path: Path, no_database_connections: list[Any]
) -> None:
    result = cli("playbooks", "validate")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("no problems found")
    assert len(result.output.strip().splitlines()) == 1


def test_validate_passes_the_sdk_sample_playbooks(tmp_path: Path) -> None:
    (tmp_path / "smokejumper.toml").write_text(
        '[approvers]\noncall = ["alice", "bob", "carol"]\nleads = ["dana"]\n'
    )
    result = cli("playbooks", "validate", str(SAMPLES))
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"\d+ playbook\(s\) in 1 file\(s\): no problems found\n", result.output)


def test_validate_checks_configured_routes_against_the_playbooks(tmp_path: Path) -> None:
    (tmp_path / "smokejumper.toml").write_text(
        '[[routes]]\nplaybook = "contain-lek"\nkinds = ["data_leakage"]\n'
    )
    result = cli("playbooks", "validate")
    assert result.exit_code == 1
    assert (
        "smokejumper.toml: routes.0.playbook: no playbook named 'contain-lek' (known: "
        + ", ".join(sorted(BUILTIN_PLAYBOOKS))
        + ")"
        in result.output
    )


# -- dry-run ------------------------------------------------------------------------------


@pytest.fixture
def alert(tmp_path: Path) -> Path:
    path = tmp_path / "alert.json"
    path.write_text(EXAMPLE_ALERT.read_text())
    return path


@pytest.fixture
def untouchable_store(tmp_path: Path) -> Iterator[Path]:
    """Configuration whose store must never come into being."""
    data_dir = tmp_path / "data"
    (tmp_path / "smokejumper.toml").write_text(
        f'data_dir = "{data_dir}"\ndatabase_url = "sqlite:///{data_dir / "never.db"}"\n'
    )
    yield data_dir
    assert not data_dir.exists(), "the dry run created the data directory"


def dry_run(playbook: str, alert: Path, *options: str, stdin: str | None = None) -> Result:
    started = time.monotonic()
    result = cli("playbooks", "dry-run", playbook, str(alert), *options, stdin=stdin)
    # Hour-long timeouts and waits are skipped, not waited for.
    assert time.monotonic() - started < 60
    return result


def test_dry_run_with_every_approval_granted(
    alert: Path, untouchable_store: Path, no_database_connections: list[Any]
) -> None:
    result = dry_run("test-four-eyes", alert, "--approve", "all", "--path", str(SAMPLES))
    assert result.exit_code == 0, result.output
    plan = [line.strip() for line in result.stdout.splitlines() if re.match(r"\s+\d+\. ", line)]
    assert plan == [
        "1. step 'snapshot': fake_action(\"snapshot\") → completed",
        "2. approval 'isolate': Isolate the endpoint? [approvers group:oncall; 2 needed]"
        " → approved by dry-run-approver-1, dry-run-approver-2",
        "3. step 'isolate': fake_action(\"isolate\") → completed",
    ]
    assert "Outcome: finished" in result.stdout


def test_dry_run_with_every_approval_denied(
    alert: Path, untouchable_store: Path, no_database_connections: list[Any]
) -> None:
    result = dry_run("test-four-eyes", alert, "--approve", "none", "--path", str(SAMPLES), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["outcome"] == "finished"
    assert [(entry["type"], entry["name"], entry["outcome"]) for entry in report["plan"]] == [
        ("step", "snapshot", "completed"),
        ("approval", "isolate", "denied"),
    ]
    assert report["plan"][1]["decided_by"] == ["dry-run-approver-1"]
    called = [(call["activity"], call["args"]) for call in report["calls"]]
    assert ("fake_action", ["snapshot"]) in called
    assert ("fake_action", ["isolate"]) not in called
    kinds = [item["kind"] for item in report["timeline"]]
    assert "approval.denied" in kinds and "playbook.finished" in kinds


SLOW_BURN = """\
from datetime import timedelta

from temporalio import workflow

from smokejumper.sdk import Contract, Fallback, IncidentStart, IncidentStatus, Playbook, playbook

NOTIFY_OWNER = Contract("notify_owner", dict, dict)
UNROTATE_KEY = Contract("unrotate_key", str, str)
ROTATE_KEY = Contract("rotate_key", str, str, undo=UNROTATE_KEY)


@playbook
class SlowBurn(Playbook):
    name = "slow-burn"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("tell the owner", NOTIFY_OWNER, {"title": incident.title})
        await self.wait(timedelta(hours=6))
        decision = await self.approve(
            "rotate",
            question="Rotate the leaked key?",
            approvers=["group:oncall"],
            timeout=timedelta(hours=4),
            fallback=Fallback.SKIP,
        )
        if decision.approved:
            await self.step("rotate", ROTATE_KEY, "key-support-web")
        await self.set_status(IncidentStatus.CONTAINED, "key rotated")
"""


def test_dry_run_skips_hours_and_asks_on_the_terminal(
    tmp_path: Path, alert: Path, untouchable_store: Path, no_database_connections: list[Any]
) -> None:
    write(tmp_path / "pb", "slow_burn.py", SLOW_BURN)
    result = dry_run("slow-burn", alert, "--approve", "ask", "--path", "pb", "--json", stdin="y\n")
    assert result.exit_code == 0, result.output
    assert "Approval 'rotate': Rotate the leaked key?" in result.stderr
    # The test runner echoes the typed answer to stdout, where a terminal would show it.
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["outcome"] == "finished"
    assert report["workflow_time_seconds"] >= 6 * 3600
    notify, approval, rotate, status = report["plan"]
    # The alert's title is longer than 40 characters: it is not repeated in the plan.
    assert notify["activity"] == "notify_owner"
    assert re.fullmatch(r"<redacted: 51 chars, sha256 [0-9a-f]{12}>", notify["args"][0]["title"])
    assert (approval["name"], approval["outcome"]) == ("rotate", "approved")
    assert (rotate["activity"], rotate["args"]) == ("rotate_key", ["key-support-web"])
    assert status["name"] == "set_incident_status"
    assert status["args"][0]["status"] == "contained"


def test_dry_run_refuses_an_unknown_playbook_and_a_bad_alert(tmp_path: Path, alert: Path) -> None:
    unknown = cli("playbooks", "dry-run", "no-such", str(alert), "--approve", "all")
    assert unknown.exit_code == 2
    known = ", ".join(sorted(BUILTIN_PLAYBOOKS))
    assert f"no playbook named 'no-such' (known: {known})" in unknown.output

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"source": "x", "kind": "nope", "severity": "high"}))
    invalid = cli("playbooks", "dry-run", "triage", str(bad), "--approve", "all")
    assert invalid.exit_code == 2
    assert "kind: Input should be" in invalid.output
    assert "title: Field required" in invalid.output


def test_dry_run_of_triage(alert: Path, untouchable_store: Path) -> None:
    result = dry_run("triage", alert, "--approve", "none")
    assert result.exit_code == 0, result.output
    assert "1. record triage.waiting: No playbook claims this alert" in result.stdout


SANDBOX_REFUSES = """\
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from smokejumper.sdk.playbook import Playbook, playbook

LOADED_AT = datetime.now()


@playbook
class LoadsTheClock(Playbook):
    name = "loads-the-clock"

    async def respond(self, incident) -> None:
        await self.record("never", "the sandbox refuses the module first")
"""


def test_dry_run_reports_a_module_the_sandbox_refuses(
    tmp_path: Path, alert: Path, untouchable_store: Path
) -> None:
    write(tmp_path / "pb", "clock.py", SANDBOX_REFUSES)
    refused = dry_run("loads-the-clock", alert, "--approve", "all", "--path", "pb")
    assert refused.exit_code == 1
    assert "loads-the-clock fails in the Temporal workflow sandbox" in refused.output
    assert "datetime.datetime.now" in refused.output
    # Another playbook still rehearses beside it.
    beside = dry_run("triage", alert, "--approve", "all", "--path", "pb")
    assert beside.exit_code == 0, beside.output


PARENT_AND_CHILD = """\
from temporalio import workflow

from smokejumper.sdk import Contract, IncidentStart, Playbook, playbook

PAGE_ONCALL = Contract("page_oncall", str, str)
QUARANTINE_MODEL = Contract("quarantine_model", dict, dict)


@playbook
class Escalate(Playbook):
    name = "escalate-to-child"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("page", PAGE_ONCALL, "primary")
        await self.child("quarantine-child", suffix="quarantine")


@playbook
class Quarantine(Playbook):
    name = "quarantine-child"

    async def respond(self, incident: IncidentStart) -> None:
        await self.step("quarantine", QUARANTINE_MODEL, {"model": "support-llm"})
"""


def test_dry_run_follows_child_workflows(
    tmp_path: Path, alert: Path, untouchable_store: Path, no_database_connections: list[Any]
) -> None:
    write(tmp_path / "pb", "escalate.py", PARENT_AND_CHILD)
    result = dry_run("escalate-to-child", alert, "--approve", "all", "--path", "pb", "--json")
    report = json.loads(result.stdout)
    assert [(e["name"], e["activity"], e["args"]) for e in report["plan"]] == [
        ("page", "page_oncall", ["primary"])
    ]
    (child,) = report["children"]
    assert child["playbook"] == "quarantine-child"
    assert child["workflow_id"] == f"{report['workflow_id']}-quarantine"
    assert [(e["name"], e["activity"], e["args"]) for e in child["plan"]] == [
        ("quarantine", "quarantine_model", [{"model": "support-llm"}])
    ]
