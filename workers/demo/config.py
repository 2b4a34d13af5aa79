"""The demo engine's configuration: its own smokejumper.toml, ports and data directory."""

from __future__ import annotations

import os
import secrets
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from integrations.slack.emulator import DEFAULT_BOT_TOKEN
from smokejumper.config import BUILTIN_PLAYBOOK_GROUPS, ENV_PREFIX, Settings, load_settings
from workers.demo.examples import DemoError
from workers.demo.retrieval import config_lines as retrieval_config_lines
from workers.demo.seed import CONSOLE_USER, MEMORY_PATTERN, write_secret

CONFIG_NAME = "smokejumper.toml"
TRIAGE_CHANNEL = "CDEMOTRIAGE"
# Slack user ids of the demo's responders, so cards can mention them.
SLACK_USERS = {"UDEMOOPERATOR": "operator", "UDEMOALICE": CONSOLE_USER}
# Minutes to acknowledge and to contain, per severity.
SLA_MINUTES = {"critical": (15, 60), "high": (30, 240), "medium": (60, 480), "low": (240, 1440)}


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


def port_free(port: int) -> bool:
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
        return preferred if port_free(preferred) else _free_port()

    return Ports(api=pick(8000), temporal=pick(7233), temporal_ui=pick(8233), slack=pick(3001))


def _toml_string(value: str) -> str:
    # A TOML basic string; the escapes JSON uses for these characters are TOML's too.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def write_config(data_dir: Path, ports: Ports, applications: list[str]) -> Path:
    """The demo engine's smokejumper.toml; secrets go in 0600 files it refers to.
    `applications` keep their conversation memory in the embedded control plane."""
    secrets_dir = data_dir / "secrets"
    bot_token = write_secret(secrets_dir / "slack-bot-token", DEFAULT_BOT_TOKEN)
    signing = write_secret(secrets_dir / "slack-signing-secret", secrets.token_urlsafe(24))
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
        *[
            line
            for application in applications
            for line in (
                f"[memory.{application}]",
                'provider = "local"',
                f"key_patterns = [{_toml_string(MEMORY_PATTERN)}]",
                "",
            )
        ],
        *retrieval_config_lines(),
        *sla_lines(),
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


def sla_lines() -> list[str]:
    """Service levels per severity, so every incident has targets to meet (and, left
    running, reminders and breaches in the emulator's Slack)."""
    lines = [
        "# How soon an incident must be acknowledged and contained (docs/case-work.md).",
    ]
    for severity, (acknowledge, contain) in SLA_MINUTES.items():
        lines += [
            f"[slas.{severity}]",
            f"acknowledge_minutes = {acknowledge}",
            f"contain_minutes = {contain}",
            'escalate_to = ["group:incident-commanders"]',
            "",
        ]
    return lines


def ports_of(settings: Settings) -> Ports:
    """The ports a demo config fixes (the emulator's is in the engine's Slack base URL)."""
    slack_port = urlsplit(settings.slack.base_url).port
    if slack_port is None:
        raise DemoError(f"slack.base_url {settings.slack.base_url} names no port")
    return Ports(
        api=settings.api.port,
        temporal=settings.temporal.dev_server_port,
        temporal_ui=settings.temporal.dev_server_ui_port,
        slack=slack_port,
    )


@contextmanager
def data_dir_for(chosen: Path | None) -> Iterator[tuple[Path, bool]]:
    if chosen is not None:
        chosen.mkdir(parents=True, exist_ok=True)
        yield chosen.resolve(), False
        return
    with tempfile.TemporaryDirectory(prefix="smokejumper-demo-") as made:
        yield Path(made), True


def settings_for(
    data_dir: Path, ports: Ports | None, applications: list[str]
) -> tuple[Settings, Path]:
    config_file = data_dir / CONFIG_NAME
    if not config_file.exists():
        write_config(data_dir, ports or default_ports(), applications)
    elif ports is not None:
        raise DemoError(
            f"{config_file} already fixes the demo's ports; leave out the port options to "
            "resume it, or use another data directory"
        )
    return load_settings(config_file), config_file


def forget_environment_settings() -> None:
    """The demo's engine is configured by its own file alone: a SMOKEJUMPER_* variable
    (which wins over the file) could point it at a real database or Slack workspace."""
    dropped = sorted(name for name in os.environ if name.startswith(ENV_PREFIX))
    for name in dropped:
        del os.environ[name]
    if dropped:
        print(f"smokejumper demo: ignoring {', '.join(dropped)}", file=sys.stderr, flush=True)
