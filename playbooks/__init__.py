"""Built-in playbooks: every module here is scanned for @playbook classes.

`smokejumper.sdk.registry` is the one place that finds playbooks (these and those in
`playbook_dirs`); the names below are views of its scan of this package, computed on
first use. They are not computed at import: the workflow sandbox imports this package
for every run of a built-in playbook, and must not import all the others each time.
"""

from __future__ import annotations

import sys

from smokejumper.domain.routing import Route
from smokejumper.sdk.playbook import Playbook
from smokejumper.sdk.registry import builtin_playbooks, routes_of, use_builtin

# Playbook name (the Temporal workflow type) → class.
BUILTIN_PLAYBOOKS: dict[str, type[Playbook]]
BUILTIN_WORKFLOWS: list[type[Playbook]]


def __getattr__(name: str) -> object:
    use_builtin(sys.modules[__name__])
    if name == "BUILTIN_PLAYBOOKS":
        return builtin_playbooks()
    if name == "BUILTIN_WORKFLOWS":
        return list(builtin_playbooks().values())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def playbook_routes() -> list[Route]:
    """Triggers the built-in playbooks declare (`triage`, the fallback, declares none)."""
    use_builtin(sys.modules[__name__])
    return routes_of(builtin_playbooks())
