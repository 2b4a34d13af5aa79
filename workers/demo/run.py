"""The demo's run: start everything, fire the alerts, print where to watch and what to
approve, then follow the incidents until Ctrl-C."""

from __future__ import annotations

import shlex
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from smokejumper.app import check_playbooks
from smokejumper.config import Settings
from smokejumper.redaction import redact
from smokejumper.sdk.registry import discover
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from workers.demo.casework import Case, case_lines, mcp_lines, open_case
from workers.demo.config import (
    Options,
    data_dir_for,
    forget_environment_settings,
    port_free,
    ports_of,
    settings_for,
)
from workers.demo.engine import (
    DemoApi,
    has_incidents,
    incident_actions,
    pending_approvals,
    situation,
)
from workers.demo.examples import DemoError, ExampleAlert, example_alerts
from workers.demo.model import DemoModel
from workers.demo.seed import (
    CONSOLE_USER,
    Credentials,
    demo_inventory,
    memory_applications,
    seed,
)
from workers.up import READY_TIMEOUT, Child, StartupError, Supervisor

FIRST_APPROVAL_TIMEOUT = 120.0
# Containment a restore retests the endpoint before undoing (the built-in playbooks' step
# names), and the timeline entries of the retest the demo prints.
RETESTED_STEPS = ("block principal", "isolate", "roll back model")
# Approvals of what the operator asked for (a restore the demo's command requests).
OTHERS_APPROVE = frozenset({"restore", "restore override"})
RETEST_NEWS = frozenset({"retest.passed", "retest.failed", "retest.overridden", "retest.held"})
POLL_SECONDS = 1.0
QUIET_POLLS = 3


@dataclass
class Progress:
    """What has been printed of each incident, so only news is printed."""

    approvals: dict[str, set[str]] = field(default_factory=dict)
    actions: set[tuple[str, str, str, str]] = field(default_factory=set)
    # Retest verdicts printed, and incidents whose restore command was printed.
    retests: set[tuple[str, int]] = field(default_factory=set)
    restorable: set[str] = field(default_factory=set)


@dataclass
class Demo:
    settings: Settings
    store: Store
    config_file: Path
    temporary: bool
    credentials: Credentials
    progress: Progress = field(default_factory=Progress)

    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{ports_of(self.settings).slack}"

    @property
    def cli(self) -> list[str]:
        return ["smokejumper", "-c", str(self.config_file)]

    def approve_command(self, ref: str, step: str) -> str:
        argv = ["smokejumper", "-c", str(self.config_file), "approve", ref, step]
        return shlex.join([*argv, "--reason", "demo"])

    def restore_command(self, ref: str) -> str:
        argv = ["smokejumper", "-c", str(self.config_file), "incidents", "restore", ref]
        return shlex.join([*argv, "--reason", "demo"])

    def print_news(self, api: DemoApi) -> None:
        """New approvals waited for, containment done, restores that can be asked for and
        retest verdicts, since the last call."""
        details = {item["id"]: api.detail(item["id"]) for item in api.incidents()}
        for ref, detail in details.items():
            # Before the containment it lets go of, so that the verdict reads first.
            self._print_retests(ref, detail)
        for ref, action, target, status in incident_actions(self.store):
            key = (ref, action, target, status)
            if key not in self.progress.actions:
                self.progress.actions.add(key)
                print(f"  {ref}  contained: {action} {_shown(target)} ({status})", flush=True)
        for ref, detail in details.items():
            self._print_restore(ref, detail)
            wanted = set(pending_approvals(detail))
            new = wanted - self.progress.approvals.get(ref, set())
            self.progress.approvals[ref] = wanted
            for step in sorted(new):
                print(f"  {ref}  waits for approval of {step!r}:", flush=True)
                if step in OTHERS_APPROVE:
                    # The operator asked for it, and may not approve their own request.
                    page = f"{self.settings.api_url}/incidents/{ref}"
                    print(f"      as {CONSOLE_USER} in the console: {page}", flush=True)
                    continue
                print(f"      {self.approve_command(ref, step)}", flush=True)

    def _print_restore(self, ref: str, detail: dict[str, Any]) -> None:
        """The restore of a finished playbook whose containment a restore retests first."""
        live = detail.get("live") or {}
        kinds = {event["kind"] for event in detail["timeline"]}
        gated = [s for s in live.get("in_force", []) if s.startswith(RETESTED_STEPS)]
        if gated and "playbook.finished" in kinds and ref not in self.progress.restorable:
            self.progress.restorable.add(ref)
            print(
                f"  {ref}  may be restored (undo {', '.join(gated)}) once a retest passes:",
                flush=True,
            )
            print(f"      {self.restore_command(ref)}", flush=True)

    def _print_retests(self, ref: str, detail: dict[str, Any]) -> None:
        """Each verdict of a restore's retest, as the timeline records it."""
        for number, event in enumerate(detail["timeline"]):
            if event["kind"] in RETEST_NEWS and (ref, number) not in self.progress.retests:
                self.progress.retests.add((ref, number))
                print(f"  {ref}  {redact(event['message'])}", flush=True)

    def header(self, supervisor: Supervisor) -> str:
        settings = self.settings
        kept = "removed on exit" if self.temporary else "kept"
        lines = [
            *supervisor.banner(hint=False).splitlines()[:-1],
            f"  Console:      {settings.api_url}/  (user {CONSOLE_USER}, password in "
            f"{self.credentials.password_file})",
            f"  Slack:        {self.slack_url}/  (messages the engine sent; JSON: "
            f"{self.slack_url}/messages.json)",
            f"  Config:       {self.config_file}  ({kept}; use it as "
            f"`smokejumper -c {shlex.quote(str(self.config_file))} …`)",
        ]
        return "\n".join(lines)


def _shown(target: str) -> str:
    """A target such as `user:u-1842` or a leaked key id, never printed in clear. The kind
    before the colon is kept out of the redactor, which would read `api_key:x` as a secret."""
    kind, colon, name = target.partition(":")
    return f"{kind}:{redact(name)}" if colon else redact(target)


def _fire_all(api: DemoApi, alerts: list[ExampleAlert]) -> None:
    print("Example alerts:", flush=True)
    for alert in alerts:
        result = api.fire(alert)
        verb = "joined" if result.deduplicated else "opened"
        print(
            f"  {alert.name:<56} {verb} {result.incident}  (playbook {result.playbook})",
            flush=True,
        )


def _wait_first_approvals(api: DemoApi, supervisor: Supervisor, within: float) -> list[str]:
    """Until every playbook waits or ended, and no timeline grew for a few polls (so none is
    merely between two steps). Returns the incidents still busy at the deadline."""
    deadline = time.monotonic() + within
    busy: list[str] = []
    seen: dict[str, int] = {}
    quiet_polls = 0
    while time.monotonic() < deadline and not supervisor.stopping:
        details = {item["id"]: api.detail(item["id"]) for item in api.incidents()}
        busy = [ref for ref, detail in details.items() if situation(detail) is None]
        lengths = {ref: len(detail["timeline"]) for ref, detail in details.items()}
        quiet_polls = quiet_polls + 1 if not busy and lengths == seen else 0
        seen = lengths
        if quiet_polls >= QUIET_POLLS:
            return []
        time.sleep(POLL_SECONDS)
    return busy


def _print_incidents(demo: Demo, api: DemoApi) -> None:
    print("Incidents (console pages):", flush=True)
    for item in api.incidents():
        ref = item["id"]
        page = f"{demo.settings.api_url}/incidents/{ref}"
        state = situation(api.detail(ref)) or "busy"
        print(f"  {ref}  {item['playbook']:<24} {page}  ({state})", flush=True)


def _open_case(demo: Demo, api: DemoApi) -> Case | None:
    """Case work on the first incident, so its console page shows a commander, an
    assignee, a task and a note."""
    incidents = api.incidents()
    if not incidents:
        return None
    try:
        return open_case(api, incidents[0]["id"], assignee=demo.settings.operator)
    except DemoError as exc:
        # Responders may have closed or merged it since; the demo goes on without it.
        print(f"smokejumper demo: no case work shown: {exc}", file=sys.stderr, flush=True)
        return None


def _print_case(demo: Demo, case: Case | None, data_dir: Path) -> None:
    lines = case_lines(case, demo.cli) if case is not None else []
    lines += mcp_lines(demo.cli, demo.credentials.token_file, data_dir)
    print("\n".join(lines), flush=True)


def run(options: Options) -> int:
    forget_environment_settings()
    examples = example_alerts()
    with data_dir_for(options.data_dir) as (data_dir, temporary):
        settings, config_file = settings_for(data_dir, options.ports, memory_applications(examples))
        model = DemoModel()
        inventory = demo_inventory(data_dir, examples, chat_url=model.url)
        check_playbooks(settings, discover(settings))
        upgrade(settings.effective_database_url)
        credentials = seed(settings, inventory, examples)
        store = Store(settings.effective_database_url)
        demo = Demo(settings, store, config_file, temporary, credentials)
        supervisor = Supervisor(settings, config_file, log_dir=data_dir / "logs")
        signal.signal(signal.SIGINT, supervisor.request_stop)
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        emulator = Child(
            name="slack-emulator",
            argv=[
                sys.executable,
                "-m",
                "integrations.slack.emulator",
                "--port",
                str(ports_of(settings).slack),
                "--log",
                str(data_dir / "slack-requests.jsonl"),
            ],
            log_file=data_dir / "logs" / "slack-emulator.log",
        )
        api: DemoApi | None = None
        try:
            if not port_free(ports_of(settings).slack):
                raise StartupError(
                    f"Slack emulator port {ports_of(settings).slack} is already in use"
                )
            model.start()
            emulator.start(supervisor.child_env())
            supervisor.children.append(emulator)
            _wait_listening(emulator, ports_of(settings).slack)
            supervisor.start()
            api = DemoApi(settings)
            print(demo.header(supervisor), flush=True)
            if has_incidents(store):
                print("Resuming the incidents already in this data directory.", flush=True)
            else:
                _fire_all(api, examples)
            busy = _wait_first_approvals(api, supervisor, FIRST_APPROVAL_TIMEOUT)
            if busy and options.once:
                raise DemoError(
                    f"still busy after {FIRST_APPROVAL_TIMEOUT:.0f}s: {', '.join(busy)} "
                    f"(logs in {data_dir / 'logs'})"
                )
            _print_incidents(demo, api)
            _print_case(demo, _open_case(demo, api), data_dir)
            print("Containment and approvals:", flush=True)
            demo.print_news(api)
            if options.once:
                return 0
            print("Approve with the commands above, or in the console. Press Ctrl-C to stop.")
            sys.stdout.flush()
            return _watch(demo, api, supervisor)
        except (DemoError, StartupError, TimeoutError, OSError, httpx.HTTPError) as exc:
            print(f"smokejumper demo: {exc}", file=sys.stderr, flush=True)
            if temporary:
                print(
                    "smokejumper demo: run with --data-dir DIR to keep each process's log "
                    "in DIR/logs",
                    file=sys.stderr,
                    flush=True,
                )
            return 1
        finally:
            if api is not None:
                api.close()
            store.dispose()
            model.stop()
            print("smokejumper demo: stopping…", file=sys.stderr, flush=True)
            supervisor.stop()
            print("smokejumper demo: stopped", file=sys.stderr, flush=True)


def _wait_listening(child: Child, port: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if not child.alive:
            raise StartupError(f"{child.name} exited during start-up")
        try:
            httpx.get(f"http://127.0.0.1:{port}/messages.json", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise StartupError(f"{child.name} did not listen on port {port}")


def _watch(demo: Demo, api: DemoApi, supervisor: Supervisor) -> int:
    """Print news until asked to stop (0) or until a process dies (1)."""
    while not supervisor.stopping:
        dead = supervisor.dead_child()
        if dead is not None:
            print(f"smokejumper demo: {dead} exited; stopping", file=sys.stderr, flush=True)
            return 1
        try:
            demo.print_news(api)
        except httpx.HTTPError as exc:
            print(f"smokejumper demo: {exc}", file=sys.stderr, flush=True)
        time.sleep(POLL_SECONDS * 2)
    return 0


def main(options: Options) -> int:
    try:
        return run(options)
    except DemoError as exc:
        print(f"smokejumper demo: {exc}", file=sys.stderr, flush=True)
        return 2
