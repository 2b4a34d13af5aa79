"""Finding playbooks: the built-in package, `playbook_dirs` folders, and what uses them."""

from __future__ import annotations

import importlib
import textwrap
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

import playbooks
from cli.main import app as cli_app
from playbooks.triage import Triage
from smokejumper.config import ConfigError, load_settings
from smokejumper.domain.alerts import AlertKind, Severity
from smokejumper.domain.incidents import SIGNAL_ALERT, AlertAttached
from smokejumper.sdk.registry import (
    PACKAGE_PREFIX,
    DuplicatePlaybook,
    PlaybookLoadError,
    builtin_playbooks,
    discover,
    routes_of,
    source_of,
)
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.tables import TimelineEvent
from tests.conftest import TEST_AUDIT_SEAL
from tests.helpers import eventually, insert_incident, make_settings
from workers.scheduler import Scheduler
from workers.worker import build_worker

CONTAIN_LEAK = '''\
"""A playbook kept outside the package, as a user keeps theirs."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from smokejumper.domain.alerts import AlertKind, Severity
    from smokejumper.domain.incidents import IncidentStart
    from smokejumper.domain.routing import Route
    from smokejumper.sdk.playbook import Playbook, playbook

from ._wording import CONTAINED


@playbook
class ContainLeak(Playbook):
    name = "contain-leak"
    version = "3"
    severity = "high"
    owasp = ["LLM02"]
    atlas = ["AML.T0057"]
    triggers = [
        Route(
            playbook="contain-leak",
            kinds=(AlertKind.DATA_LEAKAGE,),
            min_severity=Severity.HIGH,
            labels={"env": "production"},
        ),
        # Names another playbook: the trigger still starts this one.
        Route(playbook="triage", kinds=(AlertKind.MODEL_EXTRACTION,)),
    ]

    async def respond(self, incident: IncidentStart) -> None:
        await self.record("leak.contained", CONTAINED)
'''

CLASS_LINE = CONTAIN_LEAK.splitlines().index("class ContainLeak(Playbook):") + 1
WORDING = 'CONTAINED = "The leak is contained (a helper module, imported relatively)"\n'


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A playbook folder with one playbook and a `_` helper module it imports."""
    folder = tmp_path / "my-playbooks"
    write(folder, "contain_leak.py", CONTAIN_LEAK)
    write(folder, "_wording.py", WORDING)
    return folder


def test_a_folder_in_playbook_dirs_adds_its_playbooks(folder: Path) -> None:
    found = discover(load_settings(playbook_dirs=[folder]))
    assert list(found) == [*playbooks.BUILTIN_PLAYBOOKS, "contain-leak"]
    assert found["triage"] is Triage
    leak = found["contain-leak"]
    # A synthetic package per folder, importable again by name (the sandbox does that).
    assert leak.__module__.startswith(PACKAGE_PREFIX)
    assert leak.__module__.endswith(".contain_leak")
    assert importlib.import_module(leak.__module__).ContainLeak is leak
    assert source_of(leak) == ((folder / "contain_leak.py").resolve(), CLASS_LINE)
    # Loading again (another process part, another call) yields the same classes.
    assert discover(load_settings(playbook_dirs=[folder]))["contain-leak"] is leak
    # Without the folder only the built-ins are there.
    assert list(discover(load_settings())) == list(playbooks.BUILTIN_PLAYBOOKS)
    assert "triage" in playbooks.BUILTIN_PLAYBOOKS


def test_triggers_become_routes_pinned_to_their_playbook(folder: Path) -> None:
    routes = routes_of(discover(load_settings(playbook_dirs=[folder])))
    # A folder's triggers come before the built-ins': the team's own playbook wins.
    assert [(r.playbook, r.origin, r.kinds) for r in routes[:2]] == [
        ("contain-leak", "playbook:contain-leak", (AlertKind.DATA_LEAKAGE,)),
        ("contain-leak", "playbook:contain-leak", (AlertKind.MODEL_EXTRACTION,)),
    ]
    assert routes[2:] == routes_of(builtin_playbooks())
    assert routes[0].min_severity is Severity.HIGH
    assert routes[0].labels == {"env": "production"}


def test_the_package_names_are_views_of_the_registry() -> None:
    assert playbooks.BUILTIN_PLAYBOOKS == builtin_playbooks() == discover(load_settings())
    assert playbooks.BUILTIN_WORKFLOWS == list(builtin_playbooks().values())
    assert Triage in playbooks.BUILTIN_WORKFLOWS
    assert playbooks.playbook_routes() == routes_of(builtin_playbooks())
    # Triage is the fallback: it declares no trigger of its own.
    assert "triage" not in {route.playbook for route in playbooks.playbook_routes()}


def test_two_playbooks_with_one_name_are_refused_naming_both_files(
    tmp_path: Path, folder: Path
) -> None:
    other = tmp_path / "team-b"
    copy = write(other, "leak_again.py", CONTAIN_LEAK.replace("from ._wording import", "#"))
    copy.write_text(copy.read_text().replace("CONTAINED)", '"again")'))
    with pytest.raises(DuplicatePlaybook) as caught:
        discover(load_settings(playbook_dirs=[folder, other]))
    message = str(caught.value)
    assert "playbook name 'contain-leak' is used twice" in message
    assert f"{(folder / 'contain_leak.py').resolve()}:{CLASS_LINE}" in message
    assert f"{copy.resolve()}:{CLASS_LINE}" in message


def test_a_file_that_fails_to_import_is_named_with_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    path = write(folder, "oops.py", 'X = 1\n\nraise RuntimeError("not today")\n')
    with pytest.raises(PlaybookLoadError) as caught:
        discover(load_settings(playbook_dirs=[folder]))
    assert str(caught.value) == f"{path.resolve()}:3: cannot import: RuntimeError: not today"

    with pytest.raises(ConfigError, match="playbook folder does not exist"):
        discover(load_settings(playbook_dirs=[tmp_path / "missing"]))


def test_the_api_refuses_to_start_with_a_broken_playbook_folder(tmp_path: Path) -> None:
    write(tmp_path / "pb", "oops.py", "import no_such_module_anywhere\n")
    (tmp_path / "smokejumper.toml").write_text('playbook_dirs = ["pb"]\n')
    result = CliRunner().invoke(cli_app, ["api"])
    assert result.exit_code == 2, result.output
    assert "oops.py:1: cannot import: ModuleNotFoundError" in result.output


async def test_the_worker_runs_a_playbook_from_a_folder(
    tmp_path: Path, folder: Path, sqlite_url: str, temporal_env: WorkflowEnvironment
) -> None:
    settings = make_settings(
        tmp_path,
        sqlite_url,
        temporal_env.client.service_client.config.target_host,
        playbook_dirs=[folder],
    )
    upgrade(sqlite_url)
    store = Store(sqlite_url, audit=TEST_AUDIT_SEAL)
    start = insert_incident(
        store, playbook="contain-leak", kind="data_leakage", fingerprint=uuid.uuid4().hex
    )
    try:
        async with build_worker(temporal_env.client, settings, store):
            handle = await temporal_env.client.start_workflow(
                "contain-leak",
                start,
                id=f"incident-{start.fingerprint}",
                task_queue=settings.temporal.task_queue,
                start_signal=SIGNAL_ALERT,
                start_signal_args=[
                    AlertAttached(alert_id="a1", severity="high", title="t", deduplicated=False)
                ],
            )

            def messages() -> list[str]:
                with store.session() as session:
                    return list(session.scalars(select(TimelineEvent.message)))

            async def contained() -> list[str] | None:
                found = messages()
                return found if any("leak is contained" in m for m in found) else None

            await eventually(contained)
            await handle.terminate("test finished")
        # Pollers open incidents through the scheduler, which routes as the API does.
        scheduler = Scheduler(settings, store)
        assert [route.origin for route in scheduler.intake.router.routes][:2] == [
            "playbook:contain-leak",
            "playbook:contain-leak",
        ]
        await scheduler.close()
    finally:
        store.dispose()
