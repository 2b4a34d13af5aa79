"""`smokejumper playbooks validate`: what can be known about a playbook before it runs.

Two kinds of checks, each reported as `file:line: message`:

- Reading the source (`ast`) of every playbook class: calls that make workflow code
  non-deterministic or do I/O (clock, randomness, environment, files, network, processes,
  `asyncio.sleep`); activity names given to `self.step` as strings instead of typed
  contracts; approver groups that are not configured.
- Looking at the imported class: name, metadata and triggers well formed, names unique,
  the @playbook decorator applied, every activity contract it can call implemented by the
  worker (or in its own module), and the class accepted by the Temporal workflow sandbox
  (which imports its module afresh, as the worker will).

What it allows, on purpose: `print` (a side effect, not a source of divergence; it repeats
on replay, so prefer `workflow.logger` or `self.record`); approvers that are not
literals (they cannot be known before the run); code outside playbook
classes (module-level helpers are left to the sandbox, which fails them at run time).
"""

from __future__ import annotations

import ast
import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import TypeAdapter, ValidationError
from temporalio import workflow
from temporalio.worker import WorkflowRunner

from smokejumper.contracts.base import contracts_of, implemented_names
from smokejumper.domain.alerts import AlertKind, Severity
from smokejumper.domain.routing import Route
from smokejumper.domain.taxonomy import AtlasId, OwaspId
from smokejumper.sdk.playbook import Playbook
from smokejumper.sdk.registry import Catalog, is_registered, source_of

GROUP_PREFIX = "group:"
UNREGISTERED = "is not an activity the worker registers"
BY_NAME = (
    "is an activity name: pass its typed contract (e.g. REVOKE_KEY from smokejumper.sdk, "
    "or a Contract of your own)"
)
NAME_MAX_LENGTH = 100  # a Route's `playbook` may not be longer

_CLOCK = "reads the wall clock, which differs on replay; use workflow.now()"
_SLEEP = "blocks the worker instead of starting a durable timer; use self.wait(...)"
_RANDOM = "is random, which differs on replay; use workflow.random() or workflow.uuid4()"
_ENV = "reads the worker's environment, which can differ on replay; pass it as activity input"
_FILE = "does I/O in workflow code; do it in an activity and call it with self.step(...)"
_NETWORK = "talks to the network from workflow code; do it in an activity (self.step(...))"

# Fully qualified names (a module, or a module attribute) and why each is refused; a
# rule also covers everything under it (`random` covers `random.choice`).
RULES: dict[str, str] = {
    **{
        f"time.{name}": _CLOCK
        for name in (
            "time",
            "time_ns",
            "monotonic",
            "monotonic_ns",
            "perf_counter",
            "perf_counter_ns",
        )
    },
    "time.sleep": _SLEEP,
    "asyncio.sleep": "is not how a playbook waits; use self.wait(...) (or workflow.sleep)",
    "datetime.datetime.now": _CLOCK,
    "datetime.datetime.utcnow": _CLOCK,
    "datetime.datetime.today": _CLOCK,
    "datetime.date.today": _CLOCK,
    "random": _RANDOM,
    "secrets": _RANDOM,
    "os.urandom": _RANDOM,
    "uuid.uuid1": _RANDOM,
    "uuid.uuid4": _RANDOM,
    "os.environ": _ENV,
    "os.getenv": _ENV,
    "os.putenv": _ENV,
    "builtins.open": _FILE,
    "builtins.input": _FILE,
    "io.open": _FILE,
    "subprocess": "runs a process from workflow code; do it in an activity (self.step(...))",
    **{
        module: _NETWORK
        for module in ("socket", "requests", "httpx", "urllib", "boto3", "botocore", "aiohttp")
    },
}
# Builtins the source can call without importing anything.
_BUILTINS = {"open", "input"}
_ACTIVITY_CALLS = {
    "temporalio.workflow.execute_activity",
    "temporalio.workflow.start_activity",
}


@dataclass(frozen=True, order=True)
class Problem:
    path: Path
    line: int
    message: str

    def render(self, base: Path | None = None) -> str:
        # Line 0: the problem is in a file without lines to point at (the configuration).
        line = f":{self.line}" if self.line else ""
        return f"{display(self.path, base)}{line}: {self.message}"


def display(path: Path, base: Path | None = None) -> str:
    """A path relative to `base` (the working directory) when it is under it."""
    base = (base or Path.cwd()).resolve()
    try:
        return str(path.resolve().relative_to(base))
    except ValueError:
        return str(path)


@dataclass
class Context:
    """What a playbook is checked against."""

    activities: frozenset[str]
    approver_groups: frozenset[str]
    # Every playbook that will be registered, by name, with all that claim each name.
    names: Mapping[str, list[type[Playbook]]] = field(default_factory=dict)


# -- reading the source -------------------------------------------------------------------


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name → what it was imported as, for every import anywhere in the module."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".", 1)[0]
                    aliases[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _rule_for(qualified: str) -> str | None:
    for rule, reason in RULES.items():
        if qualified == rule or qualified.startswith(rule + "."):
            return reason
    return None


def _literal_str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _is_self_call(call: ast.Call, method: str) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == method
        and isinstance(func.value, ast.Name)
        and func.value.id == "self"
    )


class _ClassChecker(ast.NodeVisitor):
    def __init__(
        self,
        path: Path,
        aliases: Mapping[str, str],
        context: Context,
        local_activities: frozenset[str],
    ) -> None:
        self.path = path
        self.aliases = aliases
        self.context = context
        self.activities = context.activities | local_activities
        self.problems: list[Problem] = []

    def report(self, node: ast.AST, message: str) -> None:
        self.problems.append(Problem(self.path, getattr(node, "lineno", 1), message))

    def qualify(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        if head in self.aliases:
            base = self.aliases[head]
        elif head in _BUILTINS:
            base = f"builtins.{head}"
        else:
            base = head
        return f"{base}.{rest}" if rest else base

    def _refused(self, node: ast.expr, called: bool) -> bool:
        dotted = _dotted(node)
        if dotted is None:
            return False
        reason = _rule_for(self.qualify(dotted))
        if reason is not None:
            self.report(node, f"{dotted}{'()' if called else ''} {reason}")
        # A resolvable chain holds nothing else to check: its prefixes match no rule it
        # does not match itself.
        return True

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not self._refused(node, called=False):
            self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        self._refused(node, called=False)

    def visit_Call(self, node: ast.Call) -> None:
        if _is_self_call(node, "step"):
            self._check_step(node)
        elif _is_self_call(node, "approve"):
            self._check_approvers(node, _keyword(node, "approvers"), "approvers")
        else:
            dotted = _dotted(node.func)
            qualified = self.qualify(dotted) if dotted else ""
            if qualified in _ACTIVITY_CALLS and node.args:
                self._check_activity(node, _literal_str(node.args[0]), "activity")
            elif qualified.endswith(".Escalation") or qualified == "Escalation":
                positional = node.args[1] if len(node.args) > 1 else None
                self._check_approvers(
                    node, _keyword(node, "approvers") or positional, "escalation approvers"
                )
        if not self._refused(node.func, called=True):
            self.visit(node.func)
        for child in [*node.args, *(kw.value for kw in node.keywords)]:
            self.visit(child)

    def _check_step(self, call: ast.Call) -> None:
        name = _literal_str(call.args[0]) if call.args else _literal_str(_keyword(call, "name"))
        contract = call.args[1] if len(call.args) > 1 else _keyword(call, "contract")
        label = f"step {name!r}" if name else "a step"
        for what, node in ((label, contract), (f"undo of {label}", _keyword(call, "undo"))):
            activity_name = _literal_str(node)
            if activity_name is not None:
                self.report(
                    call,
                    f"{what}: {activity_name!r} {BY_NAME}",
                )

    def _check_activity(self, node: ast.AST, name: str | None, what: str) -> None:
        if name is None or name in self.activities:
            return
        self.report(node, f"{what}: {name!r} {UNREGISTERED}")

    def _check_approvers(self, call: ast.Call, value: ast.expr | None, what: str) -> None:
        if not isinstance(value, ast.List | ast.Tuple):
            return
        if not value.elts:
            self.report(call, f"{what} is empty: nobody could ever decide")
        for element in value.elts:
            approver = _literal_str(element)
            if approver is None or not approver.startswith(GROUP_PREFIX):
                continue
            group = approver.removeprefix(GROUP_PREFIX)
            if group not in self.context.approver_groups:
                configured = ", ".join(sorted(self.context.approver_groups)) or "none"
                self.report(
                    element,
                    f"{what}: approver group {group!r} is not configured "
                    f"(add approvers.{group}; configured: {configured})",
                )


def _class_defs(tree: ast.Module) -> Iterator[tuple[str, ast.ClassDef]]:
    """Every class with its qualified name (`Outer.Inner` for nested ones)."""

    def walk(nodes: Iterable[ast.stmt], prefix: str) -> Iterator[tuple[str, ast.ClassDef]]:
        for node in nodes:
            if isinstance(node, ast.ClassDef):
                qualified = f"{prefix}{node.name}"
                yield qualified, node
                yield from walk(node.body, f"{qualified}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from walk(node.body, f"{prefix}{node.name}.<locals>.")
            else:
                # Classes under `if`, `with` or `try` are still module-level classes.
                yield from walk(_nested_statements(node), prefix)

    yield from walk(tree.body, "")


def _nested_statements(node: ast.AST) -> list[ast.stmt]:
    nested: list[ast.stmt] = []
    for _, value in ast.iter_fields(node):
        if isinstance(value, list):
            for item in value:
                if isinstance(item, ast.stmt):
                    nested.append(item)
                elif isinstance(item, ast.ExceptHandler | ast.match_case):
                    nested.extend(item.body)
    return nested


def _looks_like_playbook(node: ast.ClassDef) -> bool:
    """For files that did not import: a class deriving from `Playbook` or decorated `@playbook`."""
    names = [_dotted(base) or "" for base in node.bases]
    names += [_dotted(d.func if isinstance(d, ast.Call) else d) or "" for d in node.decorator_list]
    return any(name.split(".")[-1] in {"Playbook", "playbook"} for name in names)


def _assigned_lines(node: ast.ClassDef) -> dict[str, ast.stmt]:
    """Class attributes assigned in the class body, to point at their line."""
    found: dict[str, ast.stmt] = {}
    for statement in node.body:
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = statement
    return found


# -- looking at the class ----------------------------------------------------------------


def _module_activities(module: ModuleType | None) -> frozenset[str]:
    """Activities defined in, or imported into, a playbook's module."""
    if module is None:
        return frozenset()
    candidates: list[Any] = []
    for value in vars(module).values():
        if isinstance(value, type):
            candidates.extend(vars(value).values())
        else:
            candidates.append(value)
    return frozenset(implemented_names(c for c in candidates if callable(c)))


_OWASP = TypeAdapter(list[OwaspId])
_ATLAS = TypeAdapter(list[AtlasId])


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return str(error["msg"]).removeprefix("Value error, ")


def _check_metadata(cls: type[Playbook], at: Callable[[str], int], path: Path) -> list[Problem]:
    problems: list[Problem] = []

    def problem(attribute: str, message: str) -> None:
        problems.append(Problem(path, at(attribute), message))

    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.strip():
        problem("name", f"{cls.__qualname__}: `name` must be a non-empty string")
    elif len(name) > NAME_MAX_LENGTH or any(ch.isspace() for ch in name):
        problem(
            "name",
            f"name {name!r} must be at most {NAME_MAX_LENGTH} characters with no spaces "
            "(it is the Temporal workflow type and what routes name)",
        )
    if not isinstance(cls.version, str) or not cls.version:
        problem("version", "`version` must be a non-empty string")
    if not isinstance(cls.description, str):
        problem("description", "`description` must be a string")
    if cls.severity not in {severity.value for severity in Severity}:
        allowed = ", ".join(severity.value for severity in Severity)
        problem("severity", f"severity {cls.severity!r} is not one of {allowed}")
    for attribute, adapter in (("owasp", _OWASP), ("atlas", _ATLAS)):
        try:
            adapter.validate_python(getattr(cls, attribute))
        except ValidationError as exc:
            problem(attribute, f"{attribute}: {_first_error(exc)}")
    return problems


def _check_triggers(
    cls: type[Playbook],
    node: ast.ClassDef | None,
    at: Callable[[str], int],
    path: Path,
    context: Context,
) -> list[Problem]:
    problems: list[Problem] = []
    triggers: object = cls.triggers
    if not isinstance(triggers, list | tuple):
        return [Problem(path, at("triggers"), "`triggers` must be a list of Route(...)")]
    statement = _assigned_lines(node).get("triggers") if node is not None else None
    value = getattr(statement, "value", None)
    elements = value.elts if isinstance(value, ast.List | ast.Tuple) else []

    def line(index: int) -> int:
        return elements[index].lineno if index < len(elements) else at("triggers")

    for index, trigger in enumerate(triggers):
        where = f"triggers[{index}]"
        if not isinstance(trigger, Route):
            problems.append(
                Problem(path, line(index), f"{where} is a {type(trigger).__name__}, not a Route")
            )
            continue
        if not isinstance(trigger.kinds, tuple) or not all(
            isinstance(kind, AlertKind) for kind in trigger.kinds
        ):
            problems.append(Problem(path, line(index), f"{where}: kinds must be AlertKind values"))
        if not isinstance(trigger.min_severity, Severity):
            problems.append(Problem(path, line(index), f"{where}: min_severity must be a Severity"))
        if trigger.playbook != cls.name:
            if trigger.playbook not in context.names:
                message = f"{where} names playbook {trigger.playbook!r}, which does not exist"
            else:
                message = f"{where} names playbook {trigger.playbook!r}, another playbook"
            problems.append(
                Problem(
                    path,
                    line(index),
                    f"{message}; a trigger always starts the playbook declaring it "
                    f"({cls.name!r}), so name that",
                )
            )
    return problems


def _check_unique(
    cls: type[Playbook], at: Callable[[str], int], path: Path, context: Context
) -> list[Problem]:
    others = [other for other in context.names.get(cls.name, []) if other is not cls]
    problems = []
    for other in others:
        other_path, other_line = source_of(other)
        problems.append(
            Problem(
                path,
                at("name"),
                f"playbook name {cls.name!r} is also used by {other.__qualname__} "
                f"({display(other_path)}:{other_line}); names must be unique",
            )
        )
    return problems


def _check_contracts(
    cls: type[Playbook], at: Callable[[str], int], path: Path, implemented: frozenset[str]
) -> list[Problem]:
    return [
        Problem(
            path,
            at("class"),
            f"{cls.__qualname__} can call activity contract {contract.name!r}, which "
            f"{UNREGISTERED}",
        )
        for contract in contracts_of([cls])
        if contract.name not in implemented
    ]


def _check_definition(cls: type[Playbook], at: Callable[[str], int], path: Path) -> list[Problem]:
    definition = workflow._Definition.from_class(cls)
    if definition is None:
        return [Problem(path, at("class"), f"{cls.__qualname__} is not a Temporal workflow")]
    if definition.name != cls.name:
        return [
            Problem(
                path,
                at("name"),
                f"{cls.__qualname__} is registered as {definition.name!r} but named "
                f"{cls.name!r}: set `name` in the class body, not after @playbook",
            )
        ]
    return []


def _sandbox_problems(
    classes: list[tuple[type[Playbook], int]], path: Path, runner: WorkflowRunner
) -> list[Problem]:
    """Have the runner import each playbook's module as a worker would.

    A module that fails there fails for each of its playbooks alike: one problem per
    distinct failure, at the first playbook it stopped.
    """
    failures: dict[str, list[tuple[type[Playbook], int]]] = {}
    for cls, line in classes:
        definition = workflow._Definition.from_class(cls)
        if definition is None:
            continue
        failure = sandbox_refusal(runner, definition)
        if failure is not None:
            failures.setdefault(failure, []).append((cls, line))
    problems = []
    for failure, failed in failures.items():
        names = ", ".join(cls.__qualname__ for cls, _ in failed)
        problems.append(
            Problem(
                path, failed[0][1], f"{names}: fails in the Temporal workflow sandbox: {failure}"
            )
        )
    return problems


_SANDBOX_LOGGER = logging.getLogger("temporalio.worker.workflow_sandbox._restrictions")


def sandbox_refusal(runner: WorkflowRunner, definition: workflow._Definition) -> str | None:
    """Why the runner's sandbox refuses a workflow (importing its module afresh), if it does."""
    failure: list[str] = []

    async def prepare() -> None:
        try:
            runner.prepare_workflow(definition)
        except Exception as exc:
            cause = exc.__cause__ or exc
            failure.append(f"{type(cause).__name__}: {cause}")

    # The sandbox logs each refusal as a warning; the problem reported says it already.
    level = _SANDBOX_LOGGER.level
    _SANDBOX_LOGGER.setLevel(logging.ERROR)
    try:
        # Its own thread and loop: the sandbox needs a running loop, the caller may have one.
        thread = threading.Thread(target=asyncio.run, args=(prepare(),), daemon=True)
        thread.start()
        thread.join()
    finally:
        _SANDBOX_LOGGER.setLevel(level)
    return failure[0] if failure else None


# -- putting it together ------------------------------------------------------------------


def _names(catalog: Catalog) -> dict[str, list[type[Playbook]]]:
    names: dict[str, list[type[Playbook]]] = {}
    for cls in catalog.playbooks:
        named = names.setdefault(cls.name, [])
        if cls not in named:
            named.append(cls)
    return names


def lint_module(
    path: Path,
    module: ModuleType | None,
    playbooks: Iterable[type[Playbook]],
    context: Context,
    runner: WorkflowRunner | None = None,
) -> list[Problem]:
    """Every check on one playbook file; `module` is None when it did not import."""
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        return [Problem(path, exc.lineno or 1, f"syntax error: {exc.msg}")]
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(path, 1, f"cannot read: {exc}")]
    aliases = _aliases(tree)
    classes = dict(_class_defs(tree))
    registered = {cls.__qualname__: cls for cls in playbooks}
    problems: list[Problem] = []

    checked = [
        qualified
        for qualified, node in classes.items()
        if qualified in registered or (module is None and _looks_like_playbook(node))
    ]
    if module is not None:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Playbook)
                and value is not Playbook
                and value.__module__ == module.__name__
                and not is_registered(value)
                and ("respond" in vars(value) or "name" in vars(value))
            ):
                node = classes.get(value.__qualname__)
                problems.append(
                    Problem(
                        path,
                        node.lineno if node else 1,
                        f"{value.__qualname__} subclasses Playbook but is not decorated "
                        "with @playbook, so no worker will run it",
                    )
                )
                if value.__qualname__ not in checked:
                    checked.append(value.__qualname__)

    local_activities = _module_activities(module)
    for qualified in checked:
        node = classes[qualified]
        checker = _ClassChecker(path, aliases, context, local_activities)
        for statement in node.body:
            checker.visit(statement)
        problems.extend(checker.problems)

    sandboxed: list[tuple[type[Playbook], int]] = []
    for qualified, cls in registered.items():
        node = classes.get(qualified)
        assigned = _assigned_lines(node) if node is not None else {}

        def at(attribute: str, node: ast.ClassDef | None = node, assigned: Any = assigned) -> int:
            if attribute in assigned:
                return int(assigned[attribute].lineno)
            return node.lineno if node is not None else 1

        problems.extend(_check_metadata(cls, at, path))
        problems.extend(_check_triggers(cls, node, at, path, context))
        problems.extend(_check_unique(cls, at, path, context))
        problems.extend(_check_definition(cls, at, path))
        problems.extend(_check_contracts(cls, at, path, context.activities | local_activities))
        sandboxed.append((cls, at("class")))
    if runner is not None:
        problems.extend(_sandbox_problems(sandboxed, path, runner))
    return sorted(set(problems))


def config_problems(
    config_path: Path | None, routes: Iterable[Route], default_playbook: str, context: Context
) -> list[Problem]:
    """Configured routes and the fallback must name a playbook that exists."""
    where = config_path or Path("configuration")
    wanted = [(f"routes.{i}.playbook", route.playbook) for i, route in enumerate(routes)]
    wanted.append(("intake.default_playbook", default_playbook))
    known = ", ".join(sorted(context.names)) or "none"
    return [
        Problem(where, 0, f"{key}: no playbook named {name!r} (known: {known})")
        for key, name in wanted
        if name not in context.names
    ]


def validate(
    targets: Catalog,
    everything: Catalog,
    *,
    activities: frozenset[str],
    approver_groups: Iterable[str],
    runner: WorkflowRunner | None = None,
) -> tuple[list[Problem], Context]:
    """Problems in the modules of `targets`, checked against all of `everything`."""
    context = Context(
        activities=activities,
        approver_groups=frozenset(approver_groups),
        names=_names(everything),
    )
    problems = [Problem(error.path, error.line or 1, error.reason) for error in targets.errors]
    failed = {error.path.resolve() for error in targets.errors}
    for loaded in targets.modules:
        problems.extend(lint_module(loaded.path, loaded.module, loaded.playbooks, context, runner))
    for path in sorted(failed):
        if path.is_file():
            # The file did not import: what its source shows is still worth reporting.
            problems.extend(lint_module(path, None, (), context, runner))
    return sorted(set(problems)), context
