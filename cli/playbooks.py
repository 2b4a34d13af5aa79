"""`smokejumper playbooks list|validate|dry-run`: work on playbooks before they run.

None of these needs the engine: no API, no database, no Temporal cluster (a dry run
starts its own time-skipping test server).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Protocol

import typer

from cli.output import fail, print_json, table
from smokejumper.config import ConfigError, Settings, config_path_from_env
from smokejumper.domain.alerts import Alert
from smokejumper.domain.routing import Route
from smokejumper.sdk import lint
from smokejumper.sdk.dryrun import (
    ApprovalAsk,
    DryRunError,
    InvalidAlert,
    Policy,
    alert_from_json,
    rehearse,
    render,
)
from smokejumper.sdk.playbook import Playbook
from smokejumper.sdk.registry import Catalog, by_name, load_all, load_path, source_of
from smokejumper.temporal.sandbox import sandboxed_runner

playbooks_app = typer.Typer(
    help="List, validate and dry-run playbooks (no engine needed).", no_args_is_help=True
)

PathsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--path",
        "-p",
        help="Also load playbooks from this file or folder (repeatable).",
    ),
]


class _HasSettings(Protocol):
    config_file: Path | None

    @property
    def settings(self) -> Settings: ...


def _context(ctx: typer.Context) -> _HasSettings:
    context: _HasSettings = ctx.find_root().obj
    return context


def _load(settings: Settings, extra: list[Path]) -> Catalog:
    try:
        catalog = load_all(settings, extra)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    if catalog.errors:
        raise fail(
            "playbooks failed to load (run `smokejumper playbooks validate`):\n"
            + "\n".join(f"  {error}" for error in catalog.errors),
            2,
        )
    return catalog


def _discovered(settings: Settings, extra: list[Path]) -> dict[str, type[Playbook]]:
    catalog = _load(settings, extra)
    try:
        return by_name(catalog.playbooks)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


def _trigger(route: Route) -> str:
    parts = [",".join(kind.value for kind in route.kinds) or "any kind"]
    parts.append(f">={route.min_severity.value}")
    parts += [f"{key}={value}" for key, value in sorted(route.labels.items())]
    if route.taxonomy:
        parts.append("naming " + "|".join(route.taxonomy))
    return " ".join(parts)


def _trigger_json(route: Route) -> dict[str, object]:
    """A trigger's fields; `taxonomy` only when it names ids (most triggers do not)."""
    dumped: dict[str, object] = route.model_dump(mode="json", exclude={"playbook", "origin"})
    if not route.taxonomy:
        dumped.pop("taxonomy")
    return dumped


def _source(cls: type) -> str:
    path, line = source_of(cls)
    return f"{lint.display(path)}:{line}"


@playbooks_app.command("list")
def list_playbooks(
    ctx: typer.Context,
    paths: PathsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the playbooks the worker would register, with their triggers."""
    playbooks = _discovered(_context(ctx).settings, paths or [])
    if as_json:
        print_json(
            [
                {
                    "name": cls.name,
                    "version": cls.version,
                    "description": cls.description,
                    "triggers": [_trigger_json(trigger) for trigger in cls.triggers],
                    "severity": cls.severity,
                    "owasp": list(cls.owasp),
                    "atlas": list(cls.atlas),
                    "source": lint.display(source_of(cls)[0]),
                    "line": source_of(cls)[1],
                    "class": f"{cls.__module__}.{cls.__qualname__}",
                }
                for cls in playbooks.values()
            ]
        )
        return
    rows = [
        (
            cls.name,
            cls.version,
            "; ".join(_trigger(trigger) for trigger in cls.triggers) or "-",
            cls.severity,
            ", ".join([*cls.owasp, *cls.atlas]) or "-",
            _source(cls),
        )
        for cls in playbooks.values()
    ]
    typer.echo(table(("name", "version", "triggers", "severity", "owasp/atlas", "source"), rows))
    typer.echo(f"{len(rows)} playbooks")


@playbooks_app.command("validate")
def validate(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Playbook files or folders; default: every discovered playbook."),
    ] = None,
) -> None:
    """Check playbooks before they run; print every problem as file:line: message."""
    context = _context(ctx)
    settings = context.settings
    extra = paths or []
    try:
        everything = load_all(settings, extra)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    if extra:
        targets = Catalog()
        for path in extra:
            targets.extend(load_path(path))
    else:
        targets = everything
    # Imported when run: the other commands start without loading every provider.
    from workers.worker import activity_names

    registered = activity_names(settings)
    problems, checked = lint.validate(
        targets,
        everything,
        activities=registered,
        approver_groups=settings.approvers.keys(),
        runner=sandboxed_runner(),
    )
    if not extra:
        config = context.config_file or config_path_from_env()
        problems += lint.config_problems(
            config, settings.routes, settings.intake.default_playbook, checked
        )
    files = len({loaded.path for loaded in targets.modules} | {e.path for e in targets.errors})
    count = len(targets.playbooks)
    if problems:
        for problem in problems:
            typer.echo(problem.render())
        if any(lint.UNREGISTERED in problem.message for problem in problems):
            typer.echo(
                "  (the worker registers: "
                + ", ".join(sorted(registered))
                + "; activities defined in a playbook's own module count as registered)"
            )
        typer.echo(f"{len(problems)} problem(s) in {count} playbook(s), {files} file(s)")
        raise typer.Exit(1)
    typer.echo(f"{count} playbook(s) in {files} file(s): no problems found")


def _read_alert(source: str) -> Alert:
    try:
        body = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {source}: {exc.strerror}", 2) from None
    try:
        return alert_from_json(body)
    except InvalidAlert as exc:
        details = "\n".join(f"  {problem}" for problem in exc.problems)
        raise fail(f"{source} is not a valid alert:\n{details}", 2) from None


def _ask_on_terminal(ask: ApprovalAsk) -> bool:
    typer.echo(
        f"\nApproval {ask.step!r}: {ask.question}\n"
        f"  approvers {ask.approvers}; {ask.min_approvals} needed",
        err=True,
    )
    return typer.confirm("Approve?", default=False, err=True)


@playbooks_app.command("dry-run")
def dry_run(
    ctx: typer.Context,
    playbook: Annotated[str, typer.Argument(help="Playbook name.")],
    alert: Annotated[str, typer.Argument(help="Alert JSON file (generic format), or -.")],
    approve: Annotated[
        str,
        typer.Option(
            "--approve",
            help="Answer approvals: all (approve), none (deny) or ask (on this terminal).",
            case_sensitive=False,
        ),
    ] = "ask",
    paths: PathsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    restore: Annotated[
        bool,
        typer.Option(
            "--restore",
            help="Once it finished, ask to restore too: its approval, the retest before the "
            "undo (rehearsed as passing) and the undo.",
        ),
    ] = False,
) -> None:
    """Run a playbook against an alert with every activity recorded, not run."""
    policy = approve.lower()
    if policy not in ("all", "none", "ask"):
        raise fail(f"--approve must be all, none or ask (got {approve!r})", 2)
    settings = _context(ctx).settings
    playbooks = _discovered(settings, paths or [])
    chosen = playbooks.get(playbook)
    if chosen is None:
        known = ", ".join(sorted(playbooks)) or "none"
        raise fail(f"no playbook named {playbook!r} (known: {known})", 2)
    parsed = _read_alert(alert)
    try:
        report = rehearse(
            settings,
            playbooks,
            chosen,
            parsed,
            _policy(policy),
            ask=_ask_on_terminal,
            restore=restore,
        )
    except DryRunError as exc:
        raise fail(str(exc), 1) from None
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        typer.echo(render(report))
    if report.outcome not in ("finished", "aborted"):
        raise typer.Exit(1)


def _policy(value: str) -> Policy:
    if value == "all":
        return "all"
    if value == "none":
        return "none"
    return "ask"
