"""`smokejumper demo`: every example alert fired at an engine of its own, to watch and approve.

The demo never touches a running `smokejumper up`: it writes its own configuration into its
own data directory (a temporary one unless `--data-dir` is given), picks its own ports (the
usual ones when free), and supervises its own Temporal dev server, worker, scheduler, API and
a Slack emulator the engine's Slack settings point at. It seeds what the examples name — the
example AI inventory, and its keys, endpoints and model versions in the embedded control
plane — adds a console user, fires each file of `examples/alerts/` through the HTTP API and
prints where to watch each incident and the `smokejumper approve` command of every approval
a playbook waits for. A second run on the same data directory resumes the same incidents.
"""

from __future__ import annotations

import json
import secrets
import shlex
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from integrations.models.local import LocalModels
from integrations.sources.registry import NORMALIZERS
from smokejumper.api.app import check_playbooks
from smokejumper.config import BUILTIN_PLAYBOOK_GROUPS, Settings, load_settings
from smokejumper.domain.alerts import Alert
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import InventoryDocument, load_inventory, read_inventory_file
from smokejumper.redaction import redact
from smokejumper.sdk.registry import discover
from smokejumper.security.operator import operator_token
from smokejumper.security.users import Role, add_user
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.tables import Action, Incident, User
from smokejumper.testing.slack_emulator import DEFAULT_BOT_TOKEN
from workers.up import READY_TIMEOUT, Child, StartupError, Supervisor

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CONFIG_NAME = "smokejumper.toml"
CONSOLE_USER = "alice"
TRIAGE_CHANNEL = "CDEMOTRIAGE"
# Slack user ids of the demo's responders, so cards can mention them.
SLACK_USERS = {"UDEMOOPERATOR": "operator", "UDEMOALICE": CONSOLE_USER}
# AWS's documented example access key id, leaked in examples/alerts/data_leakage.json. The
# demo lists it in its inventory as a key of the embedded control plane, so the leakage
# playbook revokes it there instead of at AWS IAM (which it would try for an unlisted id).
DEMO_KEYS = [
    {
        "key_id": "AKIAIOSFODNN7EXAMPLE",
        "provider": "local",
        "owner": "team-support@example.com",
        "scopes": ["support-tools"],
        "application": "support-bot",
    }
]
FIRST_APPROVAL_TIMEOUT = 120.0
POLL_SECONDS = 1.0
QUIET_POLLS = 3


class DemoError(RuntimeError):
    """The demo cannot run; the message says why and what to do."""


@dataclass(frozen=True)
class Ports:
    api: int
    temporal: int
    temporal_ui: int
    slack: int


@dataclass(frozen=True)
class Options:
    data_dir: Path | None = None
    once: bool = False
    ports: Ports | None = None


@dataclass(frozen=True)
class ExampleAlert:
    path: Path
    source: str | None  # None: the generic format; else the normalizer the file is written for

    @property
    def name(self) -> str:
        return str(self.path.relative_to(EXAMPLES.parent))

    @property
    def api_path(self) -> str:
        return "/api/v1/alerts" + (f"/{self.source}" if self.source else "")

    def parse(self) -> Alert:
        """The alert as intake will read it (to seed what it names)."""
        payload = json.loads(self.path.read_text(encoding="utf-8"))
        if self.source is None:
            return Alert.model_validate(payload)
        return NORMALIZERS[self.source].normalize(payload)


@dataclass
class Fired:
    alert: ExampleAlert
    incident: str
    playbook: str
    deduplicated: bool


@dataclass
class Progress:
    """What has been printed of each incident, so only news is printed."""

    approvals: dict[str, set[str]] = field(default_factory=dict)
    actions: set[tuple[str, str, str, str]] = field(default_factory=set)


# -- the example alerts -----------------------------------------------------------------------


def _native_source(path: Path) -> str:
    # `llm_guard_output_secret.json` is in the `llm-guard` format: the longest normalizer
    # name that starts the file name wins.
    stem = path.stem.replace("_", "-")
    matches = [name for name in NORMALIZERS if stem.startswith(name + "-") or stem == name]
    if not matches:
        raise DemoError(
            f"{path}: no alert source format is named by the start of its file name "
            f"(known: {', '.join(sorted(NORMALIZERS))})"
        )
    return max(matches, key=len)


def example_alerts(root: Path = EXAMPLES) -> list[ExampleAlert]:
    alerts = root / "alerts"
    if not alerts.is_dir():
        raise DemoError(
            f"the example alerts are not here ({alerts}); the demo runs from a source checkout"
        )
    found = [ExampleAlert(path, None) for path in sorted(alerts.glob("*.json"))]
    found += [
        ExampleAlert(path, _native_source(path)) for path in sorted(alerts.glob("native/*.json"))
    ]
    return found


# -- configuration ----------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def default_ports() -> Ports:
    """The usual ports where they are free (a running `up` holds them), else any free ones."""

    def pick(preferred: int) -> int:
        return preferred if _port_free(preferred) else _free_port()

    return Ports(api=pick(8000), temporal=pick(7233), temporal_ui=pick(8233), slack=pick(3001))


def _toml_string(value: str) -> str:
    # A TOML basic string; the escapes JSON uses for these characters are TOML's too.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _write_secret(path: Path, value: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(value + "\n", encoding="utf-8")
    return path


def write_config(data_dir: Path, ports: Ports) -> Path:
    """The demo engine's smokejumper.toml; secrets go in 0600 files it refers to."""
    secrets_dir = data_dir / "secrets"
    bot_token = _write_secret(secrets_dir / "slack-bot-token", DEFAULT_BOT_TOKEN)
    signing = _write_secret(secrets_dir / "slack-signing-secret", secrets.token_urlsafe(24))
    approvers = [f"{CONSOLE_USER}", "operator"]
    group_lines = [
        f"{group} = [{', '.join(_toml_string(name) for name in approvers)}]"
        for group in BUILTIN_PLAYBOOK_GROUPS
    ]
    user_lines = [f"{uid} = {_toml_string(name)}" for uid, name in SLACK_USERS.items()]
    lines = [
        "# Written by `smokejumper demo` for its own engine; any smokejumper command run with",
        "# `-c` and this file talks to the demo.",
        f"data_dir = {_toml_string(str(data_dir))}",
        "",
        "[api]",
        f"port = {ports.api}",
        f"public_url = {_toml_string(f'http://127.0.0.1:{ports.api}')}",
        "",
        "[temporal]",
        f"dev_server_port = {ports.temporal}",
        f"dev_server_ui_port = {ports.temporal_ui}",
        "",
        "# Both the operator (CLI) and the console user may answer the built-in playbooks,",
        "# so the steps that need two people can be shown too.",
        "[approvers]",
        *group_lines,
        "",
        "[slack]",
        f"base_url = {_toml_string(f'http://127.0.0.1:{ports.slack}/api/')}",
        f"bot_token = {_toml_string(f'file:{bot_token}')}",
        f"signing_secret = {_toml_string(f'file:{signing}')}",
        f"triage_channel = {_toml_string(TRIAGE_CHANNEL)}",
        "incident_channels = true",
        'oncall = ["group:security-oncall"]',
        "",
        "[slack.users]",
        *user_lines,
        "",
    ]
    path = data_dir / CONFIG_NAME
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _ports_of(settings: Settings) -> Ports:
    slack_port = int(settings.slack.base_url.rstrip("/").rsplit(":", 1)[1].split("/", 1)[0])
    return Ports(
        api=settings.api.port,
        temporal=settings.temporal.dev_server_port,
        temporal_ui=settings.temporal.dev_server_ui_port,
        slack=slack_port,
    )


# -- seeding ----------------------------------------------------------------------------------


def seed(settings: Settings, inventory: InventoryDocument, alerts: list[ExampleAlert]) -> Path:
    """The example inventory in the store; its keys, endpoints and model versions, and the
    keys and endpoints the alerts name, in the embedded control plane; a console user.
    Running it again changes nothing. Returns the file holding that user's password."""
    store = Store(settings.effective_database_url)
    password_file = settings.data_dir / "secrets" / f"console-{CONSOLE_USER}.password"
    try:
        import_inventory(store, inventory)
        with store.transaction() as session:
            if session.scalar(select(User.id).where(User.name == CONSOLE_USER)) is None:
                password = secrets.token_urlsafe(12)
                add_user(session, CONSOLE_USER, Role.RESPONDER, password)
                _write_secret(password_file, password)
    finally:
        store.dispose()
    parsed = [alert.parse() for alert in alerts]
    keys = LocalKeys(settings.local_keys_file)
    key_ids = {key.key_id for key in inventory.api_keys if key.provider == "local"}
    key_ids |= {a.principal.api_key_id for a in parsed if a.principal.api_key_id}
    for key_id in sorted(key_ids):
        keys.create(key_id)
    endpoints = LocalEndpoints(settings.local_endpoints_file)
    names = {endpoint.name for endpoint in inventory.endpoints if endpoint.provider == "local"}
    names |= {a.target.endpoint for a in parsed if a.target.endpoint}
    for name in sorted(names):
        endpoints.create(name)
    production = {e.model for e in inventory.endpoints if e.environment == "production"}
    models = LocalModels(settings.local_models_file)
    for model in inventory.models:
        for version in model.versions:
            if model.provider != "local" or version.artifact_uri is None:
                continue
            serving = f"{model.name}@{version.version}" in production
            models.register(
                model.name,
                version.version,
                artifact_uri=version.artifact_uri,
                aliases=("production",) if serving else (),
            )
    return password_file


# -- talking to the demo engine ----------------------------------------------------------------


class DemoApi:
    def __init__(self, settings: Settings) -> None:
        self.base = settings.api_url
        self.http = httpx.Client(
            base_url=self.base,
            headers={"authorization": f"Bearer {operator_token(settings)}"},
            timeout=30,
        )

    def close(self) -> None:
        self.http.close()

    def fire(self, alert: ExampleAlert) -> Fired:
        response = self.http.post(
            alert.api_path,
            content=alert.path.read_bytes(),
            headers={"content-type": "application/json"},
        )
        if response.status_code != 202:
            raise DemoError(
                f"{alert.name} was refused (HTTP {response.status_code}): {response.text[:300]}"
            )
        body = response.json()
        return Fired(alert, body["incident_id"], body["playbook"], body["deduplicated"])

    def incidents(self) -> list[dict[str, Any]]:
        response = self.http.get("/api/v1/incidents", params={"limit": 200})
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return sorted(items, key=lambda item: item["number"])

    def detail(self, ref: str) -> dict[str, Any]:
        response = self.http.get(f"/api/v1/incidents/{ref}")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


_ENDED = {"playbook.finished", "playbook.failed", "playbook.aborted"}


def situation(detail: dict[str, Any]) -> str | None:
    """What the playbook waits for, or None while it is busy with a step."""
    kinds = {event["kind"] for event in detail["timeline"]}
    ended = kinds & _ENDED
    if ended:
        return f"playbook {min(ended).removeprefix('playbook.')}"
    live = detail.get("live") or {}
    if live.get("pending_approvals"):
        return "waits for approval"
    if "playbook.started" in kinds and live and live.get("current_step") is None:
        # Between two steps, or waiting for a timer or more alerts (model-extraction's
        # cool-off): the caller tells them apart by whether the timeline still grows.
        return "waits for further alerts or a timer"
    return None


def pending_approvals(detail: dict[str, Any]) -> list[str]:
    live = detail.get("live") or {}
    return list(live.get("pending_approvals", []))


def incident_actions(settings: Settings) -> list[tuple[str, str, str, str]]:
    """(incident, action, target, status) of every containment action, from the store."""
    store = Store(settings.effective_database_url)
    try:
        with store.session() as session:
            rows = session.execute(
                select(Incident.ref, Action.action, Action.target, Action.status)
                .join(Incident, Incident.id == Action.incident_id)
                .order_by(Action.id)
            ).all()
    finally:
        store.dispose()
    return [(str(ref), action, target, status) for ref, action, target, status in rows]


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Demo:
    settings: Settings
    config_file: Path
    temporary: bool
    password_file: Path
    progress: Progress = field(default_factory=Progress)

    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{_ports_of(self.settings).slack}"

    def approve_command(self, ref: str, step: str) -> str:
        return " ".join(
            [
                "smokejumper",
                "-c",
                shlex.quote(str(self.config_file)),
                "approve",
                ref,
                shlex.quote(step),
                "--reason",
                shlex.quote("demo"),
            ]
        )

    def print_news(self, api: DemoApi) -> None:
        """New approvals waited for, and containment done, since the last call."""
        for ref, action, target, status in incident_actions(self.settings):
            key = (ref, action, target, status)
            if key not in self.progress.actions:
                self.progress.actions.add(key)
                print(f"  {ref}  contained: {action} {_shown(target)} ({status})", flush=True)
        for item in api.incidents():
            ref = item["id"]
            wanted = set(pending_approvals(api.detail(ref)))
            new = wanted - self.progress.approvals.get(ref, set())
            self.progress.approvals[ref] = wanted
            for step in sorted(new):
                print(f"  {ref}  waits for approval of {step!r}:", flush=True)
                print(f"      {self.approve_command(ref, step)}", flush=True)

    def header(self, supervisor: Supervisor) -> str:
        settings = self.settings
        kept = "removed on exit" if self.temporary else "kept"
        lines = [
            *supervisor.banner(hint=False).splitlines()[:-1],
            f"  Console:      {settings.api_url}/  (user {CONSOLE_USER}, password in "
            f"{self.password_file})",
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


def _fire_all(api: DemoApi, alerts: list[ExampleAlert]) -> list[Fired]:
    fired = []
    print("Example alerts:", flush=True)
    for alert in alerts:
        result = api.fire(alert)
        verb = "joined" if result.deduplicated else "opened"
        print(
            f"  {alert.name:<56} {verb} {result.incident}  (playbook {result.playbook})",
            flush=True,
        )
        fired.append(result)
    return fired


def _wait_first_approvals(api: DemoApi, supervisor: Supervisor, within: float) -> None:
    """Until every playbook waits or ended, and no timeline grew for a few polls (so none is
    merely between two steps)."""
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
            return
        time.sleep(POLL_SECONDS)
    if busy:
        raise DemoError(f"these playbooks are still busy after {within:.0f}s: {', '.join(busy)}")


def _print_incidents(demo: Demo, api: DemoApi) -> None:
    print("Incidents (console pages):", flush=True)
    for item in api.incidents():
        ref = item["id"]
        page = f"{demo.settings.api_url}/incidents/{ref}"
        state = situation(api.detail(ref)) or "busy"
        print(f"  {ref}  {item['playbook']:<24} {page}  ({state})", flush=True)


def _open_incidents(settings: Settings) -> int:
    store = Store(settings.effective_database_url)
    try:
        with store.session() as session:
            return len(session.scalars(select(Incident.id)).all())
    finally:
        store.dispose()


@contextmanager
def _data_dir(chosen: Path | None) -> Iterator[tuple[Path, bool]]:
    if chosen is not None:
        chosen.mkdir(parents=True, exist_ok=True)
        yield chosen.resolve(), False
        return
    with tempfile.TemporaryDirectory(prefix="smokejumper-demo-") as made:
        yield Path(made), True


def _settings_for(data_dir: Path, ports: Ports | None) -> tuple[Settings, Path]:
    config_file = data_dir / CONFIG_NAME
    if not config_file.exists():
        write_config(data_dir, ports or default_ports())
    elif ports is not None:
        raise DemoError(
            f"{config_file} already fixes the demo's ports; leave out the port options to "
            "resume it, or use another data directory"
        )
    return load_settings(config_file), config_file


def demo_inventory() -> InventoryDocument:
    """The example inventory plus the keys only the demo's alerts name."""
    example = read_inventory_file(EXAMPLES / "inventory.yaml").model_dump(by_alias=True)
    example["api_keys"].extend(DEMO_KEYS)
    return load_inventory(example)


def run(options: Options) -> int:
    inventory = demo_inventory()
    examples = example_alerts()
    with _data_dir(options.data_dir) as (data_dir, temporary):
        settings, config_file = _settings_for(data_dir, options.ports)
        check_playbooks(settings, discover(settings))
        upgrade(settings.effective_database_url)
        password_file = seed(settings, inventory, examples)
        demo = Demo(settings, config_file, temporary, password_file)
        supervisor = Supervisor(settings, config_file, log_dir=data_dir / "logs")
        signal.signal(signal.SIGINT, supervisor.request_stop)
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        emulator = Child(
            name="slack-emulator",
            argv=[
                sys.executable,
                "-m",
                "smokejumper.testing.slack_emulator",
                "--port",
                str(_ports_of(settings).slack),
                "--log",
                str(data_dir / "slack-requests.jsonl"),
            ],
            log_file=data_dir / "logs" / "slack-emulator.log",
        )
        api: DemoApi | None = None
        try:
            emulator.start(supervisor.child_env())
            supervisor.children.append(emulator)
            _wait_listening(emulator, _ports_of(settings).slack)
            supervisor.start()
            api = DemoApi(settings)
            print(demo.header(supervisor), flush=True)
            if _open_incidents(settings):
                print("Resuming the incidents already in this data directory.", flush=True)
            else:
                _fire_all(api, examples)
            _wait_first_approvals(api, supervisor, FIRST_APPROVAL_TIMEOUT)
            _print_incidents(demo, api)
            print("Containment and approvals:", flush=True)
            demo.print_news(api)
            if options.once:
                return 0
            print("Approve with the commands above, or in the console. Press Ctrl-C to stop.")
            sys.stdout.flush()
            return _watch(demo, api, supervisor)
        except (DemoError, StartupError, TimeoutError, OSError, httpx.HTTPError) as exc:
            print(f"smokejumper demo: {exc}", file=sys.stderr, flush=True)
            return 1
        finally:
            if api is not None:
                api.close()
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
