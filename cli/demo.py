"""`smokejumper demo`: the example alerts fired at an engine of the demo's own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.output import fail
from smokejumper.config import ConfigError
from smokejumper.logs import configure_logging


def _port(help_text: str) -> Any:
    return typer.Option(min=1, max=65535, show_default=False, help=help_text)


def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Keep the demo's state (config, store, Temporal, logs) here; run again on "
            "it to resume. Default: a temporary folder removed on exit.",
        ),
    ] = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Exit (stopping everything) once every playbook waits for an approval, "
            "a timer or further alerts, or has ended.",
        ),
    ] = False,
    api_port: Annotated[int | None, _port("API and console port.")] = None,
    temporal_port: Annotated[int | None, _port("Temporal dev server port.")] = None,
    temporal_ui_port: Annotated[int | None, _port("Temporal UI port.")] = None,
    slack_port: Annotated[int | None, _port("Slack emulator port.")] = None,
) -> None:
    """Fire every example alert at a demo engine with local providers and a Slack emulator.

    Prints each incident's console page, the Slack emulator's URL and the approve commands.

    Runs until Ctrl-C; with --once, until every playbook waits or has ended.

    It never touches a running `smokejumper up`, smokejumper.toml or SMOKEJUMPER_* variables.

    Ports: 8000, 7233, 8233 and 3001 where free, else any free ones (give all four or none).
    """
    from workers import demo as module

    given = [api_port, temporal_port, temporal_ui_port, slack_port]
    if any(port is not None for port in given) and None in given:
        raise fail(
            "give all of --api-port, --temporal-port, --temporal-ui-port and --slack-port, or none",
            2,
        )
    ports = None
    if api_port and temporal_port and temporal_ui_port and slack_port:
        ports = module.Ports(api_port, temporal_port, temporal_ui_port, slack_port)
    configure_logging("INFO", [], process="demo")
    try:
        code = module.main(module.Options(data_dir=data_dir, once=once, ports=ports))
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    raise typer.Exit(code)
